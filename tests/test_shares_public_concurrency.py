"""The download limit holds when many visitors download at the same moment.

Each thread is a separate client of the same app, so every request has its own
database session and connection, as under a threaded server. The suite runs
this on SQLite and, with VAULT_TEST_DATABASE_URL, on PostgreSQL.
"""

import io
import threading

import pytest

from tests.conftest import csrf_token_from
from tests.helpers import live_nodes
from tests.test_shares_public import link_row, make_link, outcomes
from vault.services.share_downloads import UNIT

VISITORS = 12
CONTENT = b"the same file for everyone\n" * 100


def download_together(app, urls: list[str]) -> list[tuple[int, bytes]]:
    """GET every URL at once, each from its own client; return status and body."""
    start = threading.Barrier(len(urls))
    results: list[tuple[int, bytes] | None] = [None] * len(urls)

    def visit(index: int, url: str) -> None:
        client = app.test_client()
        start.wait()
        response = client.get(url)
        results[index] = (response.status_code, response.get_data())
        response.close()

    threads = [
        threading.Thread(target=visit, args=(index, url))
        for index, url in enumerate(urls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(result is not None for result in results), "a download hung"
    return results


@pytest.mark.parametrize("limit", [1, 3])
def test_parallel_downloads_get_exactly_the_limit(app, alice, upload, limit):
    file = upload(alice, "popular.txt", CONTENT)
    link = make_link(app, alice, file, max_downloads=limit)

    results = download_together(app, [f"{link.url}/download"] * VISITORS)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * limit + [410] * (VISITORS - limit)
    assert all(body == CONTENT for status, body in results if status == 200)
    assert link_row(app, link).download_units == limit * UNIT
    assert outcomes(app, link).count("download") == limit


def test_parallel_zips_and_files_share_one_limit(app, alice, upload, make_folder):
    folder = make_folder(alice, "Shared")
    file = upload(alice, "popular.txt", CONTENT, folder_id=folder.id)
    link = make_link(app, alice, folder, max_downloads=4)
    urls = [f"{link.url}/zip", f"{link.url}/files/{file.id}/download"] * 5

    results = download_together(app, urls)

    assert sorted(status for status, _ in results) == [200] * 4 + [410] * 6
    assert link_row(app, link).download_units == 4 * UNIT


def test_parallel_uploads_get_exactly_the_number_of_files(
    app, alice, make_folder, upload
):
    inbox = make_folder(alice, "Inbox")
    link = make_link(app, alice, inbox, kind="upload", max_files=3)
    senders = []
    for number in range(8):
        client = app.test_client()
        page = client.get(link.url).get_data(as_text=True)
        senders.append((client, csrf_token_from(page), f"{number}.txt"))
    start = threading.Barrier(len(senders))
    statuses = []

    def send(client, token, name):
        start.wait()
        response = client.post(
            f"{link.url}/upload",
            data={"csrf_token": token, "files": (io.BytesIO(b"hi"), name)},
            headers={"Accept": "application/json"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=send, args=sender) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [201] * 3 + [410] * 5
    assert link_row(app, link).upload_count == 3
    assert len([n for n in live_nodes(app) if n.parent_id == inbox.id]) == 3
