"""Big files from the folder page: tus in chunks that survive pauses, a dropped
connection and a reload (static/js/tus.js), while small files keep one request."""

import base64
import hashlib
import os
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.actions import (
    drop_files,
    pick_files,
    pick_folder,
    row,
    throttle_uploads,
    upload_row,
    uploads_panel,
)
from tests.browser.conftest import screenshot
from vault.extensions import db
from vault.models import Node
from vault.services import tree

# Lowered from 8 MiB so that a 3 MiB file goes in twelve chunks, quickly.
THRESHOLD = 64 * 1024
CHUNK = 256 * 1024
SIZE = 3 * 1024 * 1024
# Slow enough to act in the middle of an upload: 3 MiB take about six seconds.
SLOW = 500_000
UPLOADS_URL = re.compile(r"/api/v1/uploads(/|$)")


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "RESUMABLE_THRESHOLD_BYTES": THRESHOLD,
        "RESUMABLE_CHUNK_BYTES": CHUNK,
    }


@pytest.fixture
def big_file(tmp_path):
    """A 3 MiB file on "the desktop", and its SHA-256."""
    path = tmp_path / "desktop" / "backup.tar"
    path.parent.mkdir()
    content = os.urandom(SIZE)
    path.write_bytes(content)
    return path, hashlib.sha256(content).hexdigest()


# Answers that are part of recovering, not failures: a request aborted by a
# pause, a reload or the network may still hold the upload on the server (423)
# or add bytes after the client asked for the offset (409). The client waits
# and asks again; Chromium logs each such answer as a console error.
RECOVERY_STATUSES = {409, 423}


@pytest.fixture
def traffic(alice_page):
    """Every API request the page sends: (method, url, headers), in order."""
    page = alice_page
    seen = []
    recovered = set()
    page.on(
        "request",
        lambda request: (
            seen.append((request.method, request.url, request.headers))
            if "/api/v1/" in request.url
            else None
        ),
    )
    page.on(
        "response",
        lambda response: (
            recovered.add(response.status)
            if UPLOADS_URL.search(response.url) and response.status in RECOVERY_STATUSES
            else None
        ),
    )
    yield seen
    page.expected_console_errors += [
        rf"Failed to load resource: .* {status}" for status in sorted(recovered)
    ]


def is_patch(response) -> bool:
    return response.request.method == "PATCH" and bool(UPLOADS_URL.search(response.url))


def patch_offsets(requests) -> list[int]:
    return [
        int(headers["upload-offset"])
        for method, url, headers in requests
        if method == "PATCH" and UPLOADS_URL.search(url)
    ]


def stored_file(app, name) -> Node:
    with app.app_context():
        node = db.session.scalars(select(Node).where(Node.name == name)).one()
        db.session.expunge(node)
        return node


def assert_stored_whole(app, name, sha256) -> None:
    node = stored_file(app, name)
    assert (node.size, node.sha256) == (SIZE, sha256)


def test_a_big_file_goes_in_chunks_and_arrives_whole(
    app, alice_page, traffic, big_file
):
    page = alice_page
    path, sha256 = big_file

    pick_files(page, path)

    expect(page.get_by_text("Uploaded 1 file.")).to_be_visible()
    expect(row(page, "backup.tar")).to_contain_text("3.1 MB")
    assert_stored_whole(app, "backup.tar", sha256)
    sent = [request for request in traffic if UPLOADS_URL.search(request[1])]
    method, url, creation = sent[0]
    assert method == "POST" and url.endswith("/api/v1/uploads")
    assert creation["tus-resumable"] == "1.0.0"
    assert creation["upload-length"] == str(SIZE)
    assert [method for method, _, _ in sent[1:]] == ["PATCH"] * (SIZE // CHUNK)
    assert patch_offsets(traffic) == list(range(0, SIZE, CHUNK))
    assert all(headers["tus-resumable"] == "1.0.0" for _, _, headers in sent)
    assert not any(url.endswith("/api/v1/files") for _, url, _ in traffic)
    # Finished uploads are not offered for resuming.
    assert page.evaluate("Object.keys(localStorage)") == []


def test_pause_then_resume_finishes(app, alice_page, traffic, big_file):
    page = alice_page
    path, sha256 = big_file
    cdp = throttle_uploads(page, SLOW)

    with page.expect_response(is_patch):
        pick_files(page, path)
    entry = upload_row(page, "backup.tar")
    # Speed and time left show while it goes.
    expect(entry).to_contain_text(re.compile(r"/s"))
    expect(entry).to_contain_text(re.compile(r"\d+ (s|min) left"))
    screenshot(page, "uploading-resumable")

    entry.get_by_role("button", name="Pause backup.tar").click()

    expect(entry).to_contain_text("Paused")
    expect(uploads_panel(page)).to_contain_text("0 of 1 uploaded · 1 paused")
    resume = entry.get_by_role("button", name="Resume backup.tar")
    expect(resume).to_be_focused()
    sent_before = len(patch_offsets(traffic))
    cdp.detach()

    resume.click()

    expect(page.get_by_text("Uploaded 1 file.")).to_be_visible()
    assert_stored_whole(app, "backup.tar", sha256)
    after_pause = patch_offsets(traffic)[sent_before:]
    assert after_pause and after_pause[0] > 0
    assert [method for method, _, _ in traffic if method == "POST"] == ["POST"]


def test_an_upload_carries_on_by_itself_after_the_network_drops(
    app, alice_page, traffic, big_file
):
    page = alice_page
    path, sha256 = big_file
    throttle_uploads(page, SLOW)
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.method))

    with page.expect_response(is_patch):
        pick_files(page, path)
    page.context.set_offline(True)

    entry = upload_row(page, "backup.tar")
    expect(entry).to_contain_text("Offline: waiting for the network…")
    page.context.set_offline(False)

    expect(page.get_by_text("Uploaded 1 file.")).to_be_visible()
    assert_stored_whole(app, "backup.tar", sha256)
    assert "PATCH" in failed
    # It asked the server where to carry on from rather than starting again.
    methods = [method for method, url, _ in traffic if UPLOADS_URL.search(url)]
    assert methods.count("POST") == 1
    assert "HEAD" in methods[methods.index("PATCH") :]


def test_lost_connections_and_server_errors_are_retried(
    app, alice_page, traffic, big_file
):
    page = alice_page
    page.expected_console_errors = [
        r"Failed to load resource: net::ERR_CONNECTION_RESET",
        r"Failed to load resource: .* 503",
    ]
    path, sha256 = big_file
    patches = []

    def flaky(route):
        # The third chunk fails twice: once on the wire, once on the server.
        if route.request.method == "PATCH":
            patches.append(route.request.headers["upload-offset"])
            if patches.count(str(2 * CHUNK)) == 1:
                route.abort("connectionreset")
                return
            if patches.count(str(2 * CHUNK)) == 2:
                route.fulfill(status=503, body="")
                return
        route.continue_()

    page.route(UPLOADS_URL, flaky)

    pick_files(page, path)

    entry = upload_row(page, "backup.tar")
    expect(entry).to_contain_text("Connection lost, retrying in 1 s…")
    expect(entry).to_contain_text("The server is busy, retrying in 3 s…")
    expect(page.get_by_text("Uploaded 1 file.")).to_be_visible()
    assert_stored_whole(app, "backup.tar", sha256)
    assert patches.count(str(2 * CHUNK)) == 3


def test_a_lost_last_answer_finishes_without_sending_the_file_again(
    app, alice_page, traffic, big_file
):
    """The server completed the upload, but its answer never came back."""
    page = alice_page
    page.expected_console_errors = [
        r"Failed to load resource: net::ERR_CONNECTION_RESET"
    ]
    path, sha256 = big_file
    last = str(SIZE - CHUNK)
    answers = []

    def lose_the_last_answer(route):
        request = route.request
        if request.method == "PATCH" and request.headers["upload-offset"] == last:
            if not answers:
                answers.append(route.fetch())  # the server gets every byte
                route.abort("connectionreset")  # the browser gets no answer
                return
        route.continue_()

    page.route(UPLOADS_URL, lose_the_last_answer)

    pick_files(page, path)

    expect(page.get_by_text("Uploaded 1 file.")).to_be_visible()
    assert answers[0].status == 204
    assert_stored_whole(app, "backup.tar", sha256)
    with app.app_context():
        assert [node.name for node in db.session.scalars(select(Node))] == [
            "backup.tar"
        ]
    # It asked where the upload stood, learnt it was done, and sent no more.
    sent = [(method, url) for method, url, _ in traffic if UPLOADS_URL.search(url)]
    lost_at = patch_offsets(traffic).index(int(last))
    assert [method for method, _ in sent].count("POST") == 1
    assert [method for method, _ in sent[lost_at + 2 :]] == ["HEAD"]
    # ...and which file the upload became, to say so in its row.
    file_id = stored_file(app, "backup.tar").id
    assert ("GET", f"/api/v1/files/{file_id}") in [
        (method, urlsplit(url).path) for method, url, _ in traffic
    ]


def test_a_lock_held_by_a_dead_request_is_waited_out_as_the_server_says(
    app, alice_page, traffic, big_file
):
    """After a crash, the dead request's lease lapses when the server says."""
    page = alice_page
    page.expected_console_errors = [r"Failed to load resource: .* 423"]
    path, sha256 = big_file
    patches = []

    def locked_once(route):
        if route.request.method == "PATCH":
            patches.append(route.request.headers["upload-offset"])
            if patches == [str(0), str(CHUNK)]:
                route.fulfill(
                    status=423,
                    headers={"Retry-After": "4", "Content-Type": "application/json"},
                    body='{"error": {"code": "upload_busy", "message": "busy"}}',
                )
                return
        route.continue_()

    page.route(UPLOADS_URL, locked_once)

    pick_files(page, path)

    # Not the first step of its own backoff (1 s): the server's 4 s.
    entry = upload_row(page, "backup.tar")
    expect(entry).to_contain_text("retrying in 4 s…")
    expect(page.get_by_text("Uploaded 1 file.")).to_be_visible()
    assert_stored_whole(app, "backup.tar", sha256)
    assert patches.count(str(CHUNK)) == 2


def test_after_a_reload_picking_the_same_file_resumes_it(
    app, alice_page, traffic, big_file
):
    page = alice_page
    path, sha256 = big_file
    throttle_uploads(page, SLOW)
    page.on("dialog", lambda dialog: dialog.accept())  # "Leave the page?"

    with page.expect_response(is_patch):
        pick_files(page, path)
    with page.expect_response(is_patch):
        pass
    page.reload()

    notice = page.get_by_role("status").filter(has_text="can be resumed")
    expect(notice).to_contain_text(
        "1 upload can be resumed: pick the same file again to continue."
    )
    expect(notice).to_contain_text("backup.tar · 3.1 MB")
    before_reload = len(traffic)
    upload_url = next(url for method, url, _ in traffic if method == "PATCH")

    pick_files(page, path)

    expect(page.get_by_text("Uploaded 1 file.")).to_be_visible()
    assert_stored_whole(app, "backup.tar", sha256)
    resumed = [
        (method, url, headers)
        for method, url, headers in traffic[before_reload:]
        if UPLOADS_URL.search(url)
    ]
    assert resumed[0][:2] == ("HEAD", upload_url)
    assert "POST" not in [method for method, _, _ in resumed]
    assert patch_offsets(resumed)[0] > 0
    expect(page.get_by_text("can be resumed")).to_be_hidden()


def test_cancelling_a_big_upload_removes_it_from_the_server(
    app, alice_page, traffic, big_file
):
    page = alice_page
    path, _ = big_file
    throttle_uploads(page, SLOW)

    with page.expect_response(
        lambda response: (
            response.request.method == "POST" and UPLOADS_URL.search(response.url)
        )
    ) as creation:
        pick_files(page, path)
    upload_url = creation.value.headers["location"]
    entry = upload_row(page, "backup.tar")
    expect(entry.get_by_role("button", name="Pause backup.tar")).to_be_visible()

    # The DELETE may wait for the aborted PATCH to let go of the upload (423).
    with page.expect_response(
        lambda response: response.request.method == "DELETE" and response.status == 204
    ):
        entry.get_by_role("button", name="Cancel backup.tar").click()

    expect(entry).to_contain_text("Cancelled")
    gone = page.request.head(upload_url, headers={"Tus-Resumable": "1.0.0"})
    assert gone.status == 404
    assert page.evaluate("Object.keys(localStorage)") == []
    with app.app_context():
        assert db.session.scalars(select(Node)).all() == []


def test_unfinished_uploads_can_be_discarded_after_a_reload(
    alice_page, traffic, big_file
):
    page = alice_page
    path, _ = big_file
    throttle_uploads(page, SLOW)
    page.on("dialog", lambda dialog: dialog.accept())  # "Leave the page?"
    with page.expect_response(is_patch):
        pick_files(page, path)
    upload_url = next(url for method, url, _ in traffic if method == "PATCH")
    # One whose time ran out (Upload-Expires) is forgotten, not offered.
    page.evaluate(
        """(user) => localStorage.setItem("tus::old", JSON.stringify({
          url: location.origin + "/api/v1/uploads/0123456789abcdef", size: 1,
          expires: Date.now() - 1000, user, name: "old.tar", path: "", folderId: "",
        }))""",
        page.locator(".file-manager").get_attribute("data-user-id"),
    )
    page.reload()

    notice = page.get_by_role("status").filter(has_text="can be resumed")
    expect(notice).to_contain_text("1 upload can be resumed")
    expect(notice).not_to_contain_text("old.tar")
    with page.expect_response(
        lambda response: response.request.method == "DELETE" and response.status == 204
    ):
        notice.get_by_role("button", name="Discard them").click()

    expect(page.get_by_text("Discarded 1 unfinished upload.")).to_be_visible()
    expect(notice).to_be_hidden()
    gone = page.request.head(upload_url, headers={"Tus-Resumable": "1.0.0"})
    assert gone.status == 404
    assert page.evaluate("Object.keys(localStorage)") == []


def test_a_file_changed_on_the_device_mid_upload_stops_with_the_reason(
    alice_page, traffic, big_file
):
    page = alice_page
    # Chromium logs the failed read as ERR_UPLOAD_FILE_CHANGED, or, when the
    # machine is busy and the request was already under way, ERR_FAILED; what
    # this test checks is the reason the page gives.
    page.expected_console_errors = [r"ERR_UPLOAD_FILE_CHANGED|net::ERR_FAILED"]
    path, _ = big_file
    throttle_uploads(page, SLOW)
    with page.expect_response(is_patch):
        pick_files(page, path)

    path.write_bytes(os.urandom(SIZE))  # saved again by some other program

    entry = upload_row(page, "backup.tar")
    expect(entry.get_by_role("alert")).to_have_text(
        "The file can no longer be read from your device: "
        "was it changed, moved or deleted?"
    )
    expect(entry).to_contain_text("Failed")
    # Not the network's fault: no retrying in a loop.
    expect(entry.get_by_role("button", name="Pause backup.tar")).to_be_hidden()


def test_keep_both_when_the_big_file_name_is_taken(
    app, alice_page, alice, upload, big_file
):
    page = alice_page
    path, sha256 = big_file
    upload(alice, "backup.tar", b"last week's backup\n")
    page.reload()

    pick_files(page, path)
    dialog = page.get_by_role("dialog", name="Some names are already taken")
    expect(dialog).to_contain_text("“backup.tar” is already in “My files”.")
    dialog.get_by_role("button", name="Keep both").click()

    expect(page.get_by_text("Uploaded 1 file.")).to_be_visible()
    expect(row(page, "backup.tar")).to_contain_text("19 bytes")
    expect(row(page, "backup (1).tar")).to_contain_text("3.1 MB")
    assert_stored_whole(app, "backup (1).tar", sha256)


def test_a_refused_big_file_says_why_in_its_row(app, alice_page, tmp_path):
    page = alice_page
    page.expected_console_errors = [r"Failed to load resource: .* 415"]
    app.config["ALLOWED_EXTENSIONS"] = "txt"  # as an operator may set it
    path = tmp_path / "setup.exe"
    path.write_bytes(b"MZ" + bytes(THRESHOLD * 2))

    pick_files(page, path)

    entry = upload_row(page, "setup.exe")
    expect(entry.get_by_role("alert")).to_have_text(
        "“setup.exe” was refused: this server accepts only .txt files. "
        "Its administrator can change that (VAULT_ALLOWED_EXTENSIONS)."
    )
    expect(entry).to_contain_text("Refused")
    expect(entry.get_by_role("button", name="Pause setup.exe")).to_be_hidden()


def test_a_small_file_still_goes_in_one_request(alice_page, traffic):
    page = alice_page

    drop_files(page, {"note.txt": "n" * 10_000})

    expect(row(page, "note.txt")).to_be_visible()
    posts = [url for method, url, _ in traffic if method == "POST"]
    assert len(posts) == 1 and posts[0].endswith("/api/v1/files")
    assert not any(UPLOADS_URL.search(url) for _, url, _ in traffic)


# Big files inside an uploaded folder: tus too, with their path in the metadata.


@pytest.fixture
def big_folder(tmp_path):
    """A folder "Trip" holding two 3 MiB "backup.tar" in two subfolders.

    Same name, size and date, different bytes: only their path tells them
    apart. Returns the folder and {folder path: SHA-256} of the two.
    """
    trip = tmp_path / "picked" / "Trip"
    expected = {}
    for folder in ("photos/2024", "videos"):
        path = trip / folder / "backup.tar"
        path.parent.mkdir(parents=True)
        content = os.urandom(SIZE)
        path.write_bytes(content)
        os.utime(path, (1_700_000_000, 1_700_000_000))
        expected[f"Trip/{folder}"] = hashlib.sha256(content).hexdigest()
    return trip, expected


def creations(requests) -> list[dict]:
    """The decoded Upload-Metadata of each tus creation (POST /uploads)."""
    found = []
    for method, url, headers in requests:
        if method == "POST" and url.endswith("/api/v1/uploads"):
            pairs = (
                pair.partition(" ") for pair in headers["upload-metadata"].split(",")
            )
            found.append(
                {key: base64.b64decode(value).decode() for key, _, value in pairs}
            )
    return found


def stored_at(app, name) -> dict[str, str]:
    """{folder path: SHA-256} of every file called `name`."""
    with app.app_context():
        return {
            tree.path_of(db.session.get(Node, node.parent_id)): node.sha256
            for node in db.session.scalars(select(Node).where(Node.name == name))
        }


def test_big_files_in_an_uploaded_folder_go_in_chunks_to_their_subfolders(
    app, alice_page, traffic, big_folder
):
    page = alice_page
    trip, expected = big_folder
    (trip / "notes.txt").write_text("small enough for one request\n")

    pick_folder(page, trip)

    expect(page.get_by_text("Uploaded 3 files.")).to_be_visible()
    assert stored_at(app, "backup.tar") == expected
    assert stored_at(app, "notes.txt") == {
        "Trip": hashlib.sha256(b"small enough for one request\n").hexdigest()
    }
    assert sorted((meta["filename"], meta["path"]) for meta in creations(traffic)) == [
        ("backup.tar", "Trip/photos/2024"),
        ("backup.tar", "Trip/videos"),
    ]
    assert len(patch_offsets(traffic)) == 2 * (SIZE // CHUNK)
    # Only the small file went in one request.
    posts = [url for method, url, _ in traffic if method == "POST"]
    assert sum(url.endswith("/api/v1/files") for url in posts) == 1
    assert page.evaluate("Object.keys(localStorage)") == []


def test_after_a_reload_each_big_file_of_a_folder_resumes_its_own_upload(
    app, alice_page, traffic, big_folder
):
    page = alice_page
    trip, expected = big_folder
    cdp = throttle_uploads(page, SLOW)
    page.on("dialog", lambda dialog: dialog.accept())  # "Leave the page?"
    patched = set()

    def both_patched(response) -> bool:
        if is_patch(response):
            patched.add(response.url)
        return len(patched) == 2

    with page.expect_response(both_patched):
        pick_folder(page, trip)
    page.reload()
    cdp.detach()

    notice = page.get_by_role("status").filter(has_text="can be resumed")
    expect(notice).to_contain_text("2 uploads can be resumed")
    expect(notice).to_contain_text("Trip/photos/2024/backup.tar")
    expect(notice).to_contain_text("Trip/videos/backup.tar")
    before_reload = len(traffic)

    pick_folder(page, trip)

    expect(page.get_by_text("Uploaded 2 files.")).to_be_visible()
    assert stored_at(app, "backup.tar") == expected
    resumed = [
        (method, url, headers)
        for method, url, headers in traffic[before_reload:]
        if UPLOADS_URL.search(url)
    ]
    assert "POST" not in [method for method, _, _ in resumed]
    assert {url for method, url, _ in resumed if method == "HEAD"} == patched


# tus.js on its own, as any page would use it. Starts an upload of `size`
# random bytes; window.uploaded is then {fileId, sha256} or {error}.
START_UPLOAD = """([options, size]) => {
  const bytes = new Uint8Array(size);
  for (let start = 0; start < size; start += 65536) {
    crypto.getRandomValues(bytes.subarray(start, start + 65536));
  }
  const file = new File([bytes], "numbers.tar");
  const resolve = (result) => { window.uploaded = result; };
  window.retries = [];
  window.uploaded = null;
  crypto.subtle.digest("SHA-256", bytes).then((digest) => {
    const sha256 = Array.from(
      new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")
    ).join("");
    new VaultTus.Upload(file, {
      endpoint: "/api/v1/uploads",
      headers: {
        "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content,
      },
      metadata: { filename: file.name },
      ...options,
      onRetry: (delay, error) => window.retries.push(error.message),
      onSuccess: ({ fileId }) => resolve({ fileId, sha256 }),
      onError: (error) => resolve({ error: error.message }),
    }).start();
  });
}"""


def uploaded(page) -> dict:
    return page.wait_for_function("() => window.uploaded").json_value()


def test_the_client_alone_can_send_a_checksum_with_each_chunk(app, alice_page, traffic):
    page = alice_page
    size = 2 * CHUNK + 1000

    page.evaluate(START_UPLOAD, [{"chunkSize": CHUNK, "checksum": "sha256"}, size])
    result = uploaded(page)

    assert "error" not in result, result
    with app.app_context():
        node = db.session.get(Node, result["fileId"])
        assert (node.name, node.size, node.sha256) == (
            "numbers.tar",
            size,
            result["sha256"],
        )
    checksums = [
        headers.get("upload-checksum", "")
        for method, _, headers in traffic
        if method == "PATCH"
    ]
    assert len(checksums) == 3
    assert all(re.fullmatch(r"sha256 [A-Za-z0-9+/]{43}=", c) for c in checksums)


def test_the_client_gives_up_on_a_stalled_chunk_and_tries_again(
    app, alice_page, traffic
):
    page = alice_page
    # At 100 bytes a second the first chunk's bytes stop moving for minutes.
    cdp = throttle_uploads(page, 100)
    options = {"chunkSize": CHUNK, "stallTimeout": 500, "retryDelays": [100]}

    page.evaluate(START_UPLOAD, [options, CHUNK + 1000])
    page.wait_for_function("() => window.retries.includes('The connection stalled.')")
    cdp.detach()

    result = uploaded(page)
    assert "error" not in result, result
    with app.app_context():
        node = db.session.get(Node, result["fileId"])
        assert (node.size, node.sha256) == (CHUNK + 1000, result["sha256"])
