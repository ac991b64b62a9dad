"""Resumable uploads over tus 1.0.0: the protocol, its edge cases, and isolation."""

import base64
import hashlib
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.conftest import PASSWORD
from tests.factories import PNG
from tests.helpers import (
    SeekableBody,
    blob_bytes,
    blobs,
    error_of,
    insert_folders_together,
    live_nodes,
    node,
    nodes,
    resumable_ids,
    set_quota,
)
from tests.tus import (
    NOTHING,
    OFFSET_STREAM,
    TUS,
    URL,
    Tus,
    encoded,
    expire,
    metadata,
    set_upload,
    state,
    upload_id,
)
from vault.extensions import db
from vault.models import Node, Reservation, ResumableUpload, User, utcnow
from vault.services import (
    quotas,
    resumable_bytes,
    resumable_expiry,
    resumable_lease,
    upload_hashes,
)
from vault.storage import get_storage

pytestmark = pytest.mark.bytes

MiB = 1024 * 1024


def digest_header(algorithm: str, data: bytes) -> str:
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm} {base64.b64encode(digest).decode()}"


@pytest.fixture
def tus(client, alice, api_headers):
    return Tus(client, api_headers(alice))


def partial_path(app, user, url) -> Path:
    return Path(app.config["STORAGE_DIR"]) / user.id / f".resumable-{upload_id(url)}"


def test_options_announce_the_protocol_and_its_extensions(tus):
    response = tus.client.options(URL, headers=tus.headers)

    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Tus-Version"] == "1.0.0"
    assert response.headers["Tus-Extension"] == (
        "creation,creation-with-upload,termination,expiration,checksum"
    )
    assert response.headers["Tus-Checksum-Algorithm"] == "sha1,sha256,md5"
    assert response.headers["Tus-Max-Size"] == str(8 * MiB)


@pytest.mark.local_storage  # the file a local store makes
def test_a_new_upload_starts_as_an_empty_private_file(app, tus, alice):
    url = tus.start(1000, "report.pdf")

    partial = partial_path(app, alice, url)
    assert partial.read_bytes() == b""
    assert partial.stat().st_mode & 0o777 == 0o600


def test_creating_an_upload_holds_its_quota_and_its_bytes(app, tus, alice):
    before = utcnow()
    response = tus.create(1000, "report.pdf")

    assert response.status_code == 201
    url = response.headers["Location"]
    assert url.startswith("http://localhost/api/v1/uploads/")
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Upload-Offset"] == "0"
    expires = parsedate_to_datetime(response.headers["Upload-Expires"])
    expected = before + timedelta(hours=24)
    assert abs(expires.replace(tzinfo=None) - expected) < timedelta(minutes=1)
    assert state(app, alice) == {
        **NOTHING,
        "reserved": 1000,
        "reservations": 1,
        "uploads": 1,
        "blobs": 1,
    }
    with app.app_context():
        upload = db.session.get(ResumableUpload, upload_id(url))
        assert (upload.filename, upload.length, upload.offset) == (
            "report.pdf",
            1000,
            0,
        )
        reservation = db.session.get(Reservation, upload.reservation_id)
        assert reservation.bytes == 1000
        assert reservation.expires_at == upload.expires_at


@pytest.mark.parametrize(
    ("length", "status"),
    [
        (None, 400),
        ("-1", 400),
        ("ten", 400),
        ("1e6", 400),
        ("99999999999999999999999999", 400),
        (str(8 * MiB + 1), 413),
    ],
)
def test_a_missing_or_bad_length_is_refused(app, tus, alice, length, status):
    headers = {"Upload-Metadata": metadata(filename="a.txt")}
    if length is not None:
        headers["Upload-Length"] = length
    response = tus.client.post(URL, headers={**tus.headers, **headers})

    error_of(response, status)
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert state(app, alice) == NOTHING


@pytest.mark.parametrize(
    "header",
    [
        "",
        f"name {encoded('a.txt')}",
        "filename not*base64",
        f"filename {encoded('a.txt')},filename {encoded('b.txt')}",
        f"filename {encoded('a.txt')},,x",
        "filename " + base64.b64encode(b"\xff\xfe.txt").decode(),
        f"filename {encoded('a.txt')},on_conflict {encoded('overwrite')}",
    ],
)
def test_bad_metadata_is_refused(app, tus, alice, header):
    response = tus.client.post(
        URL, headers={**tus.headers, "Upload-Length": "10", "Upload-Metadata": header}
    )

    error_of(response, 400)
    assert state(app, alice) == NOTHING


def test_a_refused_type_fails_before_any_byte(app, tus, alice):
    app.config["ALLOWED_EXTENSIONS"] = "txt"

    response = tus.create(10, "setup.exe")

    assert error_of(response, 415, "file_type_not_allowed")["message"] == (
        "“setup.exe” was refused: this server accepts only .txt files. "
        "Its administrator can change that (VAULT_ALLOWED_EXTENSIONS)."
    )
    assert state(app, alice) == NOTHING


def test_someone_elses_folder_is_not_found(app, tus, alice, bob, make_folder):
    folder = make_folder(bob, "Bob's")

    response = tus.create(10, "a.txt", folder_id=folder.id)

    error_of(response, 404, "not_found")
    assert state(app, alice) == NOTHING


def test_an_upload_lands_in_the_folder_it_names(app, tus, alice, make_folder):
    folder = make_folder(alice, "Reports")
    url = tus.start(5, "a.txt", folder_id=folder.id, on_conflict="fail")

    response = tus.patch(url, b"hello", 0)

    file = node(app, response.headers["Upload-File-Id"])
    assert (file.name, file.parent_id) == ("a.txt", folder.id)


# Folder uploads: the path below the folder, as with a multipart upload


def folder_named(app, name: str, parent_id=None) -> Node:
    [folder] = [
        item
        for item in live_nodes(app)
        if item.is_folder and item.name == name and item.parent_id == parent_id
    ]
    return folder


def test_a_path_creates_its_folders_and_the_file_lands_there(app, tus, alice):
    url = tus.start(5, "a.txt", path="photos/2024")

    response = tus.patch(url, b"hello", 0)

    photos = folder_named(app, "photos")
    year = folder_named(app, "2024", photos.id)
    file = node(app, response.headers["Upload-File-Id"])
    assert (file.name, file.parent_id) == ("a.txt", year.id)
    assert list(blobs(app).values()) == [b"hello"]
    assert state(app, alice) == {**NOTHING, "used": 5, "blobs": 1}


def test_a_path_goes_below_the_folder_and_reuses_what_exists(
    app, tus, alice, make_folder
):
    top = make_folder(alice, "Top")
    existing = make_folder(alice, "a", top.id)
    url = tus.start(5, "c.txt", folder_id=top.id, path="A/b")

    response = tus.patch(url, b"hello", 0)

    b = folder_named(app, "b", existing.id)
    assert node(app, response.headers["Upload-File-Id"]).parent_id == b.id
    assert sorted(item.name for item in live_nodes(app) if item.is_folder) == [
        "Top",
        "a",
        "b",
    ]


@pytest.mark.parametrize("path", ["/a//b/", "a\\b", " a / b ", "a/\x00b\x7f"])
def test_a_path_is_read_like_the_multipart_path(app, tus, alice, make_folder, path):
    top = make_folder(alice, "Top")
    url = tus.start(5, "c.txt", folder_id=top.id, path=path)
    with app.app_context():
        assert db.session.get(ResumableUpload, upload_id(url)).path == "a/b"

    response = tus.patch(url, b"hello", 0)

    b = folder_named(app, "b", folder_named(app, "a", top.id).id)
    assert node(app, response.headers["Upload-File-Id"]).parent_id == b.id


@pytest.mark.parametrize(
    "path",
    ["..", "a/../b", "a/./b", "a/\x01\x02/b", "a/\u202e/b", "/".join(["x"] * 65)],
    ids=["dotdot", "dotdot-inside", "dot", "control", "bidi", "too-deep"],
)
def test_a_bad_path_is_refused_before_any_byte(app, tus, alice, make_folder, path):
    top = make_folder(alice, "Top")

    response = tus.create(10, "a.txt", folder_id=top.id, path=path)

    error_of(response, 400)
    assert "Location" not in response.headers
    assert state(app, alice) == NOTHING
    assert [item.name for item in nodes(app)] == ["Top"]


def test_a_path_that_is_not_utf8_is_refused(app, tus, alice):
    header = f"filename {encoded('a.txt')},path " + base64.b64encode(b"\xff").decode()

    response = tus.create(10, "a.txt", headers={"Upload-Metadata": header})

    error_of(response, 400)
    assert state(app, alice) == NOTHING


def test_head_echoes_the_path_with_the_other_metadata(tus, make_folder, alice):
    top = make_folder(alice, "Top")
    url = tus.start(10, "notes.txt", folder_id=top.id, path="photos/2024")

    response = tus.head(url)

    assert response.headers["Upload-Metadata"] == metadata(
        filename="notes.txt", folder_id=top.id, path="photos/2024"
    )


def test_a_file_in_the_way_of_the_path_leaves_nothing_behind(app, tus, alice, upload):
    upload(alice, "a.txt", b"first")
    url = tus.start(6, "c.txt", path="a.txt/b")

    response = tus.patch(url, b"second", 0)

    error_of(response, 409, "conflict")
    assert state(app, alice) == {**NOTHING, "used": 5, "blobs": 1}
    assert [item.name for item in live_nodes(app)] == ["a.txt"]


def test_parallel_completions_into_one_new_path_share_its_folders(
    app, tus, alice, api_headers, monkeypatch
):
    uploads = 4
    urls = [tus.start(6, f"{number}.txt", path="a/b") for number in range(uploads)]
    insert_folders_together(monkeypatch, uploads)

    def complete(number):
        client = Tus(app.test_client(), api_headers(alice))
        return client.patch(urls[number], f"file {number}".encode(), 0)

    with ThreadPoolExecutor(uploads) as pool:
        responses = list(pool.map(complete, range(uploads)))

    assert [response.status_code for response in responses] == [204] * uploads
    folders = [item for item in live_nodes(app) if item.is_folder]
    assert sorted(folder.name for folder in folders) == ["a", "b"]
    b = folder_named(app, "b", folder_named(app, "a").id)
    assert sorted(item.name for item in live_nodes(app) if item.parent_id == b.id) == [
        f"{number}.txt" for number in range(uploads)
    ]
    assert state(app, alice) == {**NOTHING, "used": 6 * uploads, "blobs": uploads}


def test_an_upload_that_cannot_fit_is_refused_before_any_byte(app, tus, alice):
    set_quota(app, alice, 1000)

    response = tus.create(1001, "big.zip")

    assert error_of(response, 507, "quota_exceeded")["message"] == (
        "This upload needs 1.0 kB but you have 1.0 kB free of 1.0 kB."
    )
    assert state(app, alice) == NOTHING
    assert tus.create(1000, "fits.zip").status_code == 201


def test_head_tells_where_the_upload_stands(tus):
    url = tus.start(10, "notes.txt", on_conflict="replace")
    tus.patch(url, b"hello", 0)

    response = tus.head(url)

    assert response.status_code == 200
    assert response.headers["Upload-Offset"] == "5"
    assert response.headers["Upload-Length"] == "10"
    assert response.headers["Upload-Metadata"] == metadata(
        filename="notes.txt", on_conflict="replace"
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert parsedate_to_datetime(response.headers["Upload-Expires"])
    assert response.get_data() == b""


def test_chunks_become_one_file_charged_once(app, tus, alice, api_headers):
    content = os.urandom(3 * MiB + 12345)
    url = tus.start(len(content), "data.zip")
    pieces = [content[:MiB], content[MiB : 2 * MiB + 7], content[2 * MiB + 7 :]]

    offset = 0
    for piece in pieces[:-1]:
        response = tus.patch(url, piece, offset)
        assert response.status_code == 204, response.get_data(as_text=True)
        offset += len(piece)
        assert response.headers["Upload-Offset"] == str(offset)
        assert "Upload-File-Id" not in response.headers
        assert state(app, alice)["reserved"] == len(content)
    last = tus.patch(url, pieces[-1], offset)

    assert last.status_code == 204
    assert last.headers["Upload-Offset"] == str(len(content))
    file_id = last.headers["Upload-File-Id"]
    listed = tus.client.get(f"/api/v1/files/{file_id}", headers=api_headers(alice))
    assert listed.get_json()["sha256"] == hashlib.sha256(content).hexdigest()
    assert listed.get_json()["size"] == len(content)
    assert list(blobs(app).values()) == [content]
    assert state(app, alice) == {**NOTHING, "used": len(content), "blobs": 1}
    done = tus.head(url)
    assert done.status_code == 200
    assert done.headers["Upload-Offset"] == str(len(content))
    assert done.headers["Upload-File-Id"] == file_id


@pytest.mark.local_storage  # reads the upload's file in a local store
def test_a_wrong_offset_is_a_conflict(app, tus, alice):
    url = tus.start(10)
    tus.patch(url, b"hello", 0)

    for offset in (0, 3, 7):
        response = tus.patch(url, b"world", offset)
        assert error_of(response, 409, "offset_mismatch")["message"] == (
            f"This upload has 5 bytes, so the next ones start at "
            f"Upload-Offset: 5, not {offset}."
        )
    assert tus.offset(url) == 5
    assert partial_path(app, alice, url).read_bytes() == b"hello"


@pytest.mark.parametrize("offset", [None, "-1", "five"])
def test_a_missing_or_bad_offset_is_refused(tus, offset):
    url = tus.start(10)
    headers = {"Content-Type": OFFSET_STREAM}
    if offset is not None:
        headers["Upload-Offset"] = offset

    response = tus.client.patch(url, data=b"x", headers={**tus.headers, **headers})

    error_of(response, 400)
    assert tus.offset(url) == 0


def test_bytes_need_the_offset_stream_content_type(tus):
    url = tus.start(10)

    response = tus.patch(url, b"hello", 0, headers={"Content-Type": "text/plain"})

    error_of(response, 415, "unsupported_media_type")
    assert tus.offset(url) == 0


@pytest.mark.local_storage  # reads the upload's file in a local store
def test_a_body_longer_than_announced_is_refused_before_writing(app, tus, alice):
    url = tus.start(10)
    tus.patch(url, b"hello", 0)

    response = tus.patch(url, b"world, and more", 5)

    assert error_of(response, 413, "too_large")["message"] == (
        "This request carries 15 bytes but the upload has only 5 left of its "
        "Upload-Length."
    )
    assert tus.offset(url) == 5
    assert partial_path(app, alice, url).read_bytes() == b"hello"


@pytest.mark.local_storage  # reads the upload's file in a local store
def test_a_streamed_body_is_cut_at_the_length_and_refused(app, tus, alice):
    """Without Content-Length nothing tells the size: stop at Upload-Length."""
    url = tus.start(2 * MiB + 10)
    chunked = {"Transfer-Encoding": "chunked"}
    streaming = {"wsgi.input_terminated": True}

    response = tus.client.patch(
        url,
        input_stream=io.BytesIO(b"x" * (3 * MiB)),
        headers={**tus.headers, **chunked, "Upload-Offset": "0"},
        content_type=OFFSET_STREAM,
        environ_overrides=streaming,
    )

    error_of(response, 413, "too_large")
    assert tus.offset(url) == 0
    assert partial_path(app, alice, url).stat().st_size == 0
    exact = tus.client.patch(
        url,
        input_stream=io.BytesIO(b"y" * (2 * MiB + 10)),
        headers={**tus.headers, **chunked, "Upload-Offset": "0"},
        content_type=OFFSET_STREAM,
        environ_overrides=streaming,
    )
    assert exact.status_code == 204
    assert "Upload-File-Id" in exact.headers


@pytest.mark.parametrize("version", [None, "0.2.2", "1.0"])
def test_requests_without_tus_1_0_0_are_refused(tus, version):
    url = tus.start(10)
    headers = {
        key: value for key, value in tus.headers.items() if key != "Tus-Resumable"
    }
    if version is not None:
        headers["Tus-Resumable"] = version

    responses = [
        tus.client.head(url, headers=headers),
        tus.client.patch(
            url,
            data=b"x",
            headers={**headers, "Upload-Offset": "0", "Content-Type": OFFSET_STREAM},
        ),
        tus.client.delete(url, headers=headers),
        tus.client.post(URL, headers={**headers, "Upload-Length": "1"}),
    ]

    for response in responses:
        assert response.status_code == 412
        assert response.headers["Tus-Version"] == "1.0.0"
        assert response.headers["Tus-Resumable"] == "1.0.0"
    assert tus.offset(url) == 0


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "md5"])
@pytest.mark.local_storage  # reads the upload's file in a local store
def test_a_checksum_is_verified_before_the_bytes_count(app, tus, alice, algorithm):
    url = tus.start(10)
    checksum = {"Upload-Checksum": digest_header(algorithm, b"hello")}

    wrong = tus.patch(url, b"HELLO", 0, headers=checksum)
    right = tus.patch(url, b"hello", 0, headers=checksum)

    assert error_of(wrong, 460, "checksum_mismatch")["message"].startswith(
        "Checksum Mismatch"
    )
    assert right.status_code == 204
    assert right.headers["Upload-Offset"] == "5"
    assert partial_path(app, alice, url).read_bytes() == b"hello"


@pytest.mark.local_storage  # reads the upload's file in a local store
def test_a_checksum_mismatch_keeps_nothing_of_the_request(app, tus, alice):
    url = tus.start(10)
    tus.patch(url, b"hello", 0)

    response = tus.patch(
        url, b"world", 5, headers={"Upload-Checksum": digest_header("sha1", b"w0rld")}
    )

    error_of(response, 460)
    assert tus.offset(url) == 5
    assert partial_path(app, alice, url).read_bytes() == b"hello"


@pytest.mark.parametrize(
    "header", ["crc32 AAAAAA==", "sha1 not*base64", "sha1 " + encoded("short"), "sha1"]
)
def test_a_checksum_we_cannot_check_is_refused(tus, header):
    url = tus.start(10)

    response = tus.patch(url, b"hello", 0, headers={"Upload-Checksum": header})

    error_of(response, 400)
    assert tus.offset(url) == 0


class StalledBody(SeekableBody):
    """A body whose second half waits for a signal: a request in progress."""

    def __init__(self, first: bytes, second: bytes):
        self.pieces = [first, second]
        self.length, self.position = len(first) + len(second), 0
        self.stalled, self.go_on = threading.Event(), threading.Event()

    def readinto(self, buffer) -> int:
        if not self.pieces:
            return 0
        if len(self.pieces) == 1:
            self.stalled.set()
            assert self.go_on.wait(timeout=30)
        piece = self.pieces.pop(0)
        buffer[: len(piece)] = piece
        return len(piece)


def test_two_requests_never_write_to_one_upload_at_once(app, tus, alice):
    url = tus.start(10)
    body = StalledBody(b"hello", b"world")
    results = {}

    def slow_request():
        client = app.test_client()
        results["slow"] = Tus(client, tus.headers).patch(
            url, None, 0, input_stream=body
        )

    thread = threading.Thread(target=slow_request)
    thread.start()
    assert body.stalled.wait(timeout=30)
    second = tus.patch(url, b"HELLO", 0)
    body.go_on.set()
    thread.join(timeout=30)

    error_of(second, 423, "upload_busy")
    assert results["slow"].status_code == 204
    file = node(app, results["slow"].headers["Upload-File-Id"])
    assert file.sha256 == hashlib.sha256(b"helloworld").hexdigest()


@pytest.mark.local_storage  # reads the upload's file in a local store
def test_a_second_request_cannot_write_while_one_holds_the_lease(app, tus, alice):
    url = tus.start(10)
    # Another request, in this process or another, is writing right now.
    set_upload(app, url, locked_until=utcnow() + timedelta(seconds=30))

    patch = tus.patch(url, b"hello", 0)
    delete = tus.delete(url)

    assert error_of(patch, 423, "upload_busy")["message"].startswith(
        "Another request is sending bytes to this upload right now."
    )
    error_of(delete, 423, "upload_busy")
    # If that request died, its lease lapses in 30 s: the client may wait so long.
    for refused in (patch, delete):
        assert 29 <= int(refused.headers["Retry-After"]) <= 30
    assert partial_path(app, alice, url).read_bytes() == b""
    # The lease of a request that died lapses.
    set_upload(app, url, locked_until=utcnow() - timedelta(seconds=1))
    assert tus.patch(url, b"hello", 0).status_code == 204
    with app.app_context():
        assert db.session.get(ResumableUpload, upload_id(url)).locked_until is None


@pytest.mark.local_storage  # reads the upload's file in a local store
def test_a_request_that_loses_its_lease_stops_writing(app, tus, alice, monkeypatch):
    """A request that stalled past its lease must not write after a takeover."""
    url = tus.start(3 * MiB)
    monkeypatch.setattr(resumable_lease, "LEASE_RENEWAL", resumable_lease.LEASE * 2)
    original = resumable_lease.Lease.take

    def taken_over_after_the_first_read(cls, *args):
        lease = original(*args)
        set_upload(app, url, locked_until=utcnow() + timedelta(minutes=5))
        return lease

    monkeypatch.setattr(
        resumable_lease.Lease, "take", classmethod(taken_over_after_the_first_read)
    )

    response = tus.patch(url, b"z" * (2 * MiB), 0)

    error_of(response, 423, "upload_busy")
    assert partial_path(app, alice, url).read_bytes() == b""
    with app.app_context():
        upload = db.session.get(ResumableUpload, upload_id(url))
        assert upload.offset == 0
        assert upload.locked_until > utcnow()  # still the other request's


@pytest.mark.local_storage  # reads the upload's file in a local store
def test_bytes_past_the_offset_from_a_crash_are_cut_off(app, tus, alice, api_headers):
    content = os.urandom(2000)
    url = tus.start(len(content), "data.zip")
    tus.patch(url, content[:1000], 0)
    # A request that died after writing, before counting its bytes.
    with partial_path(app, alice, url).open("ab") as partial:
        partial.write(b"not durable" * 50)

    assert tus.offset(url) == 1000
    response = tus.patch(url, content[1000:], 1000)

    file = node(app, response.headers["Upload-File-Id"])
    assert file.sha256 == hashlib.sha256(content).hexdigest()
    assert file.size == len(content)


# Werkzeug's own stream raises when the body stops short; under gunicorn the
# body just ends, and only Content-Length tells that bytes are missing.
@pytest.mark.parametrize("server_ends_quietly", [False, True])
@pytest.mark.local_storage  # reads the upload's file in a local store
def test_a_client_gone_midway_keeps_what_fully_arrived(
    app, tus, alice, server_ends_quietly
):
    url = tus.start(4 * MiB)
    sent = b"a" * (2 * MiB + 100)
    environ = {"CONTENT_LENGTH": str(3 * MiB)}
    if server_ends_quietly:
        environ["wsgi.input_terminated"] = True

    response = tus.patch(
        url, None, 0, input_stream=io.BytesIO(sent), environ_overrides=environ
    )

    assert error_of(response, 400, "incomplete_body")["message"].endswith(
        f"the upload has {len(sent)} bytes, go on from there."
    )
    assert tus.offset(url) == len(sent)
    assert partial_path(app, alice, url).read_bytes() == sent


@pytest.mark.local_storage  # reads the upload's file in a local store
def test_a_client_gone_midway_keeps_nothing_a_checksum_covers(app, tus, alice):
    url = tus.start(4 * MiB)
    whole = b"a" * (3 * MiB)

    response = tus.patch(
        url,
        None,
        0,
        headers={"Upload-Checksum": digest_header("sha256", whole)},
        input_stream=io.BytesIO(whole[: 2 * MiB]),
        environ_overrides={"CONTENT_LENGTH": str(len(whole))},
    )

    error_of(response, 400, "incomplete_body")
    assert tus.offset(url) == 0
    assert partial_path(app, alice, url).read_bytes() == b""


def test_termination_removes_bytes_quota_and_row(app, tus, alice):
    url = tus.start(10)
    tus.patch(url, b"hello", 0)

    response = tus.delete(url)

    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert tus.head(url).status_code == 404
    assert tus.delete(url).status_code == 404
    assert state(app, alice) == NOTHING


def test_an_expired_upload_is_gone_and_cleaned_up(app, tus, alice, runner):
    url = tus.start(10)
    tus.patch(url, b"hello", 0)
    expire(app, url)

    assert tus.head(url).status_code == 404
    for response in (tus.patch(url, b"world", 5), tus.delete(url)):
        error_of(response, 404, "not_found")
    result = runner.invoke(args=["cleanup"])

    assert result.exit_code == 0, result.output
    assert result.output == (
        "Removed 1 expired upload (5 bytes received).\n"
        "Released 0 expired reservations.\n"
        "Purged 0 items from the trash.\n"
        "Deleted 0 ended share links.\n"
    )
    assert state(app, alice) == NOTHING
    again = runner.invoke(args=["cleanup"])
    assert again.output == (
        "Removed 0 expired uploads (0 bytes received).\n"
        "Released 0 expired reservations.\n"
        "Purged 0 items from the trash.\n"
        "Deleted 0 ended share links.\n"
    )


def test_cleanup_releases_reservations_nobody_renewed(app, runner, alice):
    with app.app_context():
        quotas.reserve(alice.id, 300, now=utcnow() - timedelta(hours=1))

    result = runner.invoke(args=["cleanup"])

    assert "Released 1 expired reservation.\n" in result.output
    assert state(app, alice) == NOTHING


def test_uploads_expire_a_day_after_their_last_bytes(app, tus, alice):
    url = tus.start(10)
    tus.patch(url, b"hello", 0)
    with app.app_context():
        soon = utcnow() + timedelta(hours=23)
        assert resumable_expiry.remove_expired(now=soon) == (0, 0)
        later = utcnow() + timedelta(hours=25)
        assert resumable_expiry.remove_expired(now=later) == (1, 5)
    assert state(app, alice) == NOTHING


def test_starting_an_upload_sweeps_the_users_expired_ones(
    app, tus, alice, bob, api_headers
):
    mine = tus.start(10)
    bobs = Tus(tus.client, api_headers(bob)).start(10)
    expire(app, mine)
    expire(app, bobs)

    tus.start(20)

    with app.app_context():
        left = set(db.session.scalars(select(ResumableUpload.id)))
    assert upload_id(mine) not in left
    assert upload_id(bobs) in left
    assert upload_id(mine) not in resumable_ids(app)
    assert upload_id(bobs) in resumable_ids(app)
    assert state(app, alice)["reserved"] == 20


def test_another_users_upload_is_not_found(app, client, tus, alice, bob, api_headers):
    url = tus.start(10)
    tus.patch(url, b"hello", 0)
    bobs = Tus(client, api_headers(bob))

    head = bobs.head(url)
    responses = [bobs.patch(url, b"world", 5), bobs.delete(url)]

    assert head.status_code == 404
    assert "Upload-Offset" not in head.headers
    for response in [head, *responses]:
        assert response.headers["Tus-Resumable"] == "1.0.0"
    for response in responses:
        error_of(response, 404, "not_found")
    assert tus.offset(url) == 5
    finished = tus.patch(url, b"world", 5)
    file = node(app, finished.headers["Upload-File-Id"])
    assert blob_bytes(app, file.storage_key) == b"helloworld"


def test_anonymous_requests_are_unauthorized(client, tus):
    url = tus.start(10)

    for response in (
        client.head(url, headers=TUS),
        client.patch(url, data=b"x", headers=TUS),
        client.post(URL, headers={**TUS, "Upload-Length": "1"}),
    ):
        assert response.status_code == 401
        assert response.headers["Tus-Resumable"] == "1.0.0"


def test_creation_with_upload_takes_the_first_bytes_at_once(app, tus, alice):
    response = tus.create(10, headers={"Content-Type": OFFSET_STREAM}, data=b"hello")

    assert response.status_code == 201
    assert response.headers["Upload-Offset"] == "5"
    url = response.headers["Location"]
    assert tus.offset(url) == 5
    finished = tus.patch(url, b"world", 5)
    assert node(app, finished.headers["Upload-File-Id"]).size == 10


def test_creation_with_the_whole_upload_makes_the_file(app, tus, alice):
    response = tus.create(
        5,
        headers={
            "Content-Type": OFFSET_STREAM,
            "Upload-Checksum": digest_header("sha256", b"hello"),
        },
        data=b"hello",
    )

    assert response.status_code == 201
    assert response.headers["Upload-Offset"] == "5"
    file = node(app, response.headers["Upload-File-Id"])
    assert (file.name, file.size) == ("notes.txt", 5)
    assert state(app, alice) == {**NOTHING, "used": 5, "blobs": 1}


def test_a_failed_first_chunk_still_tells_where_the_upload_is(tus):
    response = tus.create(
        10,
        headers={
            "Content-Type": OFFSET_STREAM,
            "Upload-Checksum": digest_header("sha1", b"other"),
        },
        data=b"hello",
    )

    error_of(response, 460)
    assert tus.offset(response.headers["Location"]) == 0


def test_a_body_on_creation_needs_the_offset_stream_type(app, tus, alice):
    response = tus.create(10, headers={"Content-Type": "text/plain"}, data=b"hello")

    error_of(response, 415)
    assert state(app, alice) == NOTHING


def test_an_empty_upload_is_a_file_at_once(app, tus):
    response = tus.create(0, "empty.txt")

    assert response.status_code == 201
    file = node(app, response.headers["Upload-File-Id"])
    assert (file.name, file.size) == ("empty.txt", 0)


def test_the_browser_session_needs_the_csrf_header(app, client, auth, alice):
    auth.login(alice.email, PASSWORD)
    session_tus = Tus(client, {})

    refused = session_tus.create(10)
    token = auth.csrf_token("/")
    allowed = session_tus.create(10, headers={"X-CSRFToken": token})

    error_of(refused, 400, "csrf_failed")
    assert refused.headers["Tus-Resumable"] == "1.0.0"
    assert allowed.status_code == 201
    url = allowed.headers["Location"]
    assert session_tus.offset(url) == 0  # HEAD is safe: no header needed
    error_of(session_tus.patch(url, b"hello", 0), 400, "csrf_failed")
    done = session_tus.patch(url, b"hellohello", 0, headers={"X-CSRFToken": token})
    assert done.status_code == 204


def test_a_completion_that_is_refused_leaves_nothing_behind(app, tus, alice):
    fake = b"this is no image" * 100
    url = tus.start(len(fake), "photo.png")
    tus.patch(url, fake[:1000], 0)

    response = tus.patch(url, fake[1000:], 1000)

    assert error_of(response, 415, "content_mismatch")["message"] == (
        "“photo.png” was refused: its content is not a valid PNG file."
    )
    assert tus.head(url).status_code == 404
    assert state(app, alice) == NOTHING


def test_a_real_png_completes(app, tus):
    url = tus.start(len(PNG), "dot.png")

    response = tus.patch(url, PNG, 0)

    assert node(app, response.headers["Upload-File-Id"]).content_type == "image/png"


def test_a_name_conflict_with_fail_leaves_nothing_behind(app, tus, alice, upload):
    upload(alice, "notes.txt", b"first")
    url = tus.start(6, "notes.txt", on_conflict="fail")

    response = tus.patch(url, b"second", 0)

    error_of(response, 409, "conflict")
    assert state(app, alice) == {**NOTHING, "used": 5, "blobs": 1}
    assert [node.name for node in live_nodes(app)] == ["notes.txt"]


def test_a_quota_lowered_meanwhile_refuses_the_completion(app, tus, alice):
    url = tus.start(10, "data.zip")
    tus.patch(url, b"hello", 0)
    with app.app_context():
        # An administrator lowered the quota below what is already held.
        db.session.execute(
            update(User)
            .where(User.id == alice.id)
            .values(quota_bytes=5, used_bytes=User.used_bytes + 10)
        )
        db.session.commit()

    response = tus.patch(url, b"world", 5)

    error_of(response, 507, "quota_exceeded")
    after = state(app, alice)
    assert (after["reserved"], after["reservations"], after["uploads"]) == (0, 0, 0)
    assert after["blobs"] == 0


def test_a_post_can_stand_in_for_patch_and_delete(app, tus, alice):
    url = tus.start(10)

    patched = tus.client.post(
        url,
        data=b"hello",
        headers={
            **tus.headers,
            "X-HTTP-Method-Override": "PATCH",
            "Upload-Offset": "0",
            "Content-Type": OFFSET_STREAM,
        },
    )
    plain = tus.client.post(url, headers=tus.headers)
    deleted = tus.client.post(
        url, headers={**tus.headers, "X-HTTP-Method-Override": "DELETE"}
    )

    assert patched.status_code == 204
    assert patched.headers["Upload-Offset"] == "5"
    error_of(plain, 400)
    assert deleted.status_code == 204
    assert state(app, alice) == NOTHING


def test_an_upload_whose_bytes_vanished_is_forgotten(app, tus, alice):
    url = tus.start(10)
    with app.app_context():
        get_storage().delete_resumable(alice.id, upload_id(url))

    response = tus.patch(url, b"hello", 0)

    error_of(response, 404, "not_found")
    assert state(app, alice) == NOTHING


@pytest.mark.local_storage  # reads the upload's file in a local store
def test_a_long_request_counts_its_bytes_as_it_goes(app, tus, alice, monkeypatch):
    """Without a checksum, bytes are made durable and counted along the way."""
    monkeypatch.setattr(resumable_bytes, "CHECKPOINT_BYTES", MiB)
    url = tus.start(4 * MiB)

    response = tus.patch(
        url,
        None,
        0,
        input_stream=io.BytesIO(b"b" * (5 * MiB)),
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    # Too long in the end: what was counted before stays, the rest goes, and
    # the upload is never counted as complete without becoming a file.
    error_of(response, 413)
    assert tus.offset(url) == 3 * MiB
    assert partial_path(app, alice, url).stat().st_size == 3 * MiB
    assert state(app, alice)["used"] == 0


# The file hash, carried from request to request


@pytest.fixture
def rehashes(app, monkeypatch):
    """Count how often a finished upload is read again to hash it.

    The store reads it exactly when it is finished without its SHA-256
    (BlobStore.finish_resumable).
    """
    calls = []
    with app.app_context():
        store = get_storage()
    original = store.finish_resumable

    def counting(namespace, upload_id, length, sha256=None, progress=None):
        if sha256 is None:
            calls.append(upload_id)
        return original(namespace, upload_id, length, sha256, progress)

    monkeypatch.setattr(store, "finish_resumable", counting)
    return calls


def send_in_pieces(tus, url, content: bytes, cuts: list[int]):
    """PATCH content[cut:next cut] for each cut; return the last response."""
    for start, stop in zip(cuts, [*cuts[1:], len(content)], strict=True):
        response = tus.patch(url, content[start:stop], start)
        assert response.status_code == 204, response.get_data(as_text=True)
    return response


def sha256_of(app, response) -> str:
    return node(app, response.headers["Upload-File-Id"]).sha256


def test_the_hash_goes_on_from_request_to_request(app, tus, rehashes):
    # Past StreamHash's in-line size, so the hashing thread does the work.
    content = os.urandom(7 * MiB + 5)
    url = tus.start(len(content), "data.zip")

    last = send_in_pieces(tus, url, content, [0, 3 * MiB, 5 * MiB + 1])

    assert sha256_of(app, last) == hashlib.sha256(content).hexdigest()
    assert rehashes == []


def test_after_a_request_elsewhere_the_upload_is_read_once_to_hash(app, tus, rehashes):
    content = os.urandom(2 * MiB)
    url = tus.start(len(content), "data.zip")
    tus.patch(url, content[:MiB], 0)
    # As if another worker process had taken that request: this one has no
    # hash state for the upload.
    upload_hashes.forget(upload_id(url))

    last = tus.patch(url, content[MiB:], MiB)

    assert sha256_of(app, last) == hashlib.sha256(content).hexdigest()
    assert len(rehashes) == 1


def test_bytes_refused_midway_leave_the_hash_right(app, tus, rehashes):
    content = os.urandom(3 * MiB)
    url = tus.start(len(content), "data.zip")
    tus.patch(url, content[:MiB], 0)
    wrong = digest_header("sha1", b"something else")

    refused = tus.patch(url, content[MiB:], MiB, headers={"Upload-Checksum": wrong})
    last = tus.patch(url, content[MiB:], MiB)

    error_of(refused, 460)
    assert sha256_of(app, last) == hashlib.sha256(content).hexdigest()
    assert rehashes == []
