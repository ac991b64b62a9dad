"""A worker killed at any step of the write path loses nothing it confirmed.

gunicorn runs with the test-only fault hook (vault/faults.py) set to a step;
the worker dies there, mid-upload. A restarted server then answers for what
it confirmed before, the dead upload left a row only if its commit happened,
and `fsck --repair` (at a time after the reservation's lifetime, passed in)
leaves nothing for a second fsck to find.
"""

import hashlib
import http.client
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.conftest import base_config
from tests.helpers import BOUNDARY, PATTERN, MultipartBody, post_body, set_quota
from tests.servers import (
    free_port,
    gunicorn_environment,
    start_gunicorn,
    stop,
    wait_until_answering,
)
from tests.tus import OFFSET_STREAM, TUS, Tus, set_upload, state
from vault import create_app, faults
from vault.extensions import db
from vault.models import Node, User, utcnow
from vault.services import fsck, fsck_report, quotas

pytestmark = pytest.mark.bytes

MiB = 1024 * 1024
# Larger than an S3 part (8 MiB): some of its bytes are in any store before
# the worker dies, as a temp file or an unfinished multipart upload.
KILLED = 9 * MiB
# What a worker killed at each step leaves for fsck to find.
LEFT_BEHIND = {
    "after-write": ["stale_partial", "stale_reservation"],  # bytes not yet a blob
    "after-rename": ["orphan_blob", "stale_reservation"],  # a blob without a row
    "after-commit": [],  # a file its client was never told about
}


@pytest.fixture
def app_config(app_config):
    app_config["MAX_UPLOAD_BYTES"] = 16 * MiB
    return app_config


class Server:
    """gunicorn over the test app's database and storage, one worker."""

    def __init__(self, app, tmp_path, **settings):
        port = free_port()
        environment = gunicorn_environment(
            app,
            port,
            workers=1,
            threads=2,
            max_upload_bytes=app.config["MAX_UPLOAD_BYTES"],
            **settings,
        )
        self.port = port
        self.log = tmp_path / f"gunicorn-{port}.log"
        self.process = start_gunicorn(environment, self.log)
        wait_until_answering(port, self.process, self.log)

    def request(self, method, path, headers, body=None):
        """Return (status, body), or None if the connection died unanswered."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None
        finally:
            connection.close()

    def upload(self, headers, name: str, size: int):
        body = MultipartBody(name, size)
        headers = {
            **headers,
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(body.length),
        }
        return self.request("POST", "/api/v1/files", headers, body.readall())

    def stop(self) -> None:
        stop(self.process)


def content_sha256(server, headers, file_id) -> str:
    status, body = server.request("GET", f"/api/v1/files/{file_id}/content", headers)
    assert status == 200
    return hashlib.sha256(body).hexdigest()


def pattern_sha256(size: int) -> str:
    """The SHA-256 of the bytes a MultipartBody of `size` carries."""
    assert size % len(PATTERN) == 0
    return hashlib.sha256(PATTERN * (size // len(PATTERN))).hexdigest()


def file_id(app, name: str) -> str:
    with app.app_context():
        return db.session.scalar(select(Node.id).where(Node.name == name))


def stored_names(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(Node.name)))


def user_counters(app, user) -> tuple[int, int]:
    with app.app_context():
        owner = db.session.get(User, user.id)
        return owner.used_bytes, owner.reserved_bytes


def fsck_later(app, repair: bool) -> fsck_report.Report:
    """Run fsck as it would run once every reservation of now has lapsed."""
    with app.app_context():
        later = utcnow() + quotas.reservation_lifetime() + timedelta(minutes=1)
        return fsck.check(repair=repair, now=later)


@pytest.mark.parametrize("step", faults.STEPS)
def test_a_worker_killed_mid_upload_loses_nothing_it_confirmed(
    app, client, alice, api_headers, tmp_path, step
):
    set_quota(app, alice, 64 * MiB)  # a quota, so uploads hold reservations
    headers = api_headers(alice)
    kept = post_body(client, headers, MultipartBody("kept.zip", MiB))
    assert kept.status_code == 201
    kept = kept.get_json()["files"][0]

    faulty = Server(app, tmp_path, testing="true", test_fault=step)
    try:
        assert faulty.upload(headers, "killed.zip", KILLED) is None
    finally:
        faulty.stop()
    assert f"exited with code {faults.EXIT_STATUS}" in faulty.log.read_text()

    # Committed, it stays, though its client never heard so.
    committed = step == "after-commit"
    assert stored_names(app) == ["kept.zip"] + (["killed.zip"] if committed else [])
    used, reserved = user_counters(app, alice)
    assert used == MiB + (KILLED if committed else 0)
    assert (reserved > 0) is not committed  # a dead upload's hold, until it lapses
    report = fsck_later(app, repair=True)
    assert sorted(report.by_kind()) == LEFT_BEHIND[step]
    assert all(problem.repaired for problem in report.problems)
    assert fsck_later(app, repair=False).problems == []
    assert user_counters(app, alice) == (MiB + (KILLED if committed else 0), 0)

    server = Server(app, tmp_path)
    try:
        assert content_sha256(server, headers, kept["id"]) == kept["sha256"]
        if committed:
            killed = file_id(app, "killed.zip")
            assert content_sha256(server, headers, killed) == pattern_sha256(KILLED)
        status, _ = server.upload(headers, "after.zip", MiB)
        assert status == 201
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"TEST_FAULT": "after-write", "TESTING": False}, "for tests only"),
        ({"TEST_FAULT": "before-lunch"}, "must be one of"),
    ],
)
def test_the_fault_hook_cannot_be_turned_on_outside_tests(
    tmp_path, settings, complaint
):
    with pytest.raises(ValueError, match=complaint):
        create_app({**base_config(tmp_path), **settings})


@pytest.mark.parametrize("step", ["after-write", "after-rename"])
def test_a_tus_upload_killed_while_becoming_a_file_takes_its_last_bytes_again(
    app, client, alice, api_headers, tmp_path, step
):
    set_quota(app, alice, 64 * MiB)
    headers = api_headers(alice)
    tus = Tus(client, headers)
    url = tus.start(2 * MiB, "big.zip")
    patch = {
        **headers,
        **TUS,
        "Upload-Offset": "0",
        "Content-Type": OFFSET_STREAM,
        "Content-Length": str(2 * MiB),
    }

    faulty = Server(app, tmp_path, testing="true", test_fault=step)
    try:
        assert faulty.request("PATCH", urlsplit(url).path, patch, PATTERN * 32) is None
    finally:
        faulty.stop()
    # The dead request's lease runs out (30 s later).
    set_upload(app, url, locked_until=utcnow() - timedelta(seconds=1))

    # The last bytes count only in the transaction that makes the file, so a
    # HEAD never says "complete" for an upload that has no file: the upload
    # stands where it was.
    assert tus.offset(url) == 0
    if step == "after-write":
        # Its bytes are still its own: the client sends them again.
        done = tus.patch(url, PATTERN * 32, 0)
        assert done.status_code == 204
        content = client.get(
            f"/api/v1/files/{done.headers['Upload-File-Id']}/content",
            headers=headers,
        )
        assert hashlib.sha256(content.data).hexdigest() == pattern_sha256(2 * MiB)
        assert user_counters(app, alice) == (2 * MiB, 0)
        assert fsck_later(app, repair=False).problems == []
        return
    # Its bytes became a blob never recorded: the client starts afresh.
    assert tus.patch(url, PATTERN * 32, 0).status_code == 404
    assert tus.head(url).status_code == 404
    assert (state(app, alice)["uploads"], user_counters(app, alice)) == (0, (0, 0))
    assert sorted(fsck_later(app, repair=True).by_kind()) == ["orphan_blob"]
    assert fsck_later(app, repair=False).problems == []
