"""Parallel uploads of one user can never together pass the quota.

First from threads (each its own client, database session and connection, as
under a threaded server), then from several gunicorn worker processes. The
suite runs both on SQLite and, with VAULT_TEST_DATABASE_URL, on PostgreSQL.
"""

import http.client
import threading

import pytest
from sqlalchemy import func, select

from tests.helpers import BOUNDARY, MultipartBody, blobs, post_body, set_quota
from vault.extensions import db
from vault.models import Node, Reservation, User

pytestmark = pytest.mark.bytes

MiB = 1024 * 1024
UPLOADS = 12
FILE_SIZE = MiB
QUOTA = 5 * MiB + MiB // 2  # room for exactly five


def assert_exactly_five_stored(app, user, statuses):
    assert sorted(statuses) == [201] * 5 + [507] * (UPLOADS - 5)
    with app.app_context():
        owner = db.session.get(User, user.id)
        stored = db.session.scalars(
            select(Node.size).where(Node.owner_id == user.id)
        ).all()
        assert stored == [FILE_SIZE] * 5
        assert (owner.used_bytes, owner.reserved_bytes) == (5 * FILE_SIZE, 0)
        assert db.session.scalar(select(func.count()).select_from(Reservation)) == 0
    assert sorted(len(content) for content in blobs(app).values()) == [FILE_SIZE] * 5


def run_together(count, action) -> list:
    start = threading.Barrier(count)
    results = [None] * count

    def run(index):
        start.wait()
        results[index] = action(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert None not in results, "an upload hung"
    return results


def test_parallel_uploads_from_threads_stay_within_the_quota(app, alice, api_headers):
    set_quota(app, alice, QUOTA)
    headers = api_headers(alice)

    def upload(index):
        response = post_body(
            app.test_client(), headers, MultipartBody(f"{index}.zip", FILE_SIZE)
        )
        response.close()
        return response.status_code

    assert_exactly_five_stored(app, alice, run_together(UPLOADS, upload))


def test_parallel_uploads_from_worker_processes_stay_within_the_quota(
    app, alice, api_headers, gunicorn
):
    set_quota(app, alice, QUOTA)
    headers = {
        **api_headers(alice),
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }

    def upload(index):
        body = MultipartBody(f"{index}.zip", FILE_SIZE)
        connection = http.client.HTTPConnection("127.0.0.1", gunicorn, timeout=60)
        connection.request(
            "POST",
            "/api/v1/files",
            body=body.readall(),
            headers={**headers, "Content-Length": str(body.length)},
        )
        status = connection.getresponse().status
        connection.close()
        return status

    assert_exactly_five_stored(app, alice, run_together(UPLOADS, upload))
