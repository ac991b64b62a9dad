"""A real tus client (tuspy) against a real server: upload, interrupt, resume.

The server is gunicorn over the test database and storage, as deployed. The
upload is interrupted twice: the first client stops after some chunks, then a
request breaks off halfway through its body; a second client, knowing only the
upload's URL, asks the server where it stands and finishes the upload. Then
the answer to a last chunk is lost, and tuspy's own retry finds the file.
"""

import hashlib
import os
import socket
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select
from tusclient.client import TusClient

from tests.helpers import live_nodes
from vault.extensions import db
from vault.models import Node, ResumableUpload, User
from vault.storage import get_storage

pytestmark = pytest.mark.bytes

MiB = 1024 * 1024
SIZE = 100 * MiB
CHUNK = 5 * MiB
FIRST_CLIENT_STOPS_AT = 9 * CHUNK
BROKEN_OFF_AFTER = 2 * MiB + 12345


@pytest.fixture
def app_config(app_config):
    return {**app_config, "MAX_UPLOAD_BYTES": 2 * SIZE}


@pytest.fixture
def big_file(tmp_path):
    """100 MiB of random bytes on disk, and their SHA-256."""
    path, digest = tmp_path / "big.zip", hashlib.sha256()
    with path.open("wb") as file:
        for _ in range(SIZE // MiB):
            piece = os.urandom(MiB)
            digest.update(piece)
            file.write(piece)
    return path, digest.hexdigest()


def break_off_midway(upload_url: str, headers: dict, data: bytes, offset: int) -> int:
    """Send a PATCH whose body stops short, as a dropped connection would.

    Only the sending half is closed, so the server's answer can still be read:
    the test knows the server is done with the request, without waiting.
    """
    url = urlsplit(upload_url)
    request = "".join(
        f"{name}: {value}\r\n"
        for name, value in {
            **headers,
            "Host": url.netloc,
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(CHUNK),
            "Connection": "close",
        }.items()
    )
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(f"PATCH {url.path} HTTP/1.1\r\n{request}\r\n".encode() + data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while piece := sock.recv(65536):
            answer += piece
    return int(answer.split(b" ", 2)[1])


def test_tuspy_uploads_is_interrupted_and_resumes_with_a_second_client(
    app,
    alice,
    api_headers,
    gunicorn,
    big_file,
):
    path, sha256 = big_file
    endpoint = f"http://127.0.0.1:{gunicorn}/api/v1/uploads"
    headers = api_headers(alice)

    with path.open("rb") as source:
        first = TusClient(endpoint, headers=headers).uploader(
            file_stream=source, chunk_size=CHUNK, metadata={"filename": "big.zip"}
        )
        first.upload(stop_at=FIRST_CLIENT_STOPS_AT)
        source.seek(FIRST_CLIENT_STOPS_AT)
        broken = source.read(BROKEN_OFF_AFTER)
        status = break_off_midway(first.url, headers, broken, FIRST_CLIENT_STOPS_AT)

        second = TusClient(endpoint, headers=headers).uploader(
            file_stream=source, url=first.url, chunk_size=CHUNK, upload_checksum=True
        )
        resumed_at = second.offset
        second.upload()

    assert status == 400  # the body ended early; what arrived was kept
    assert resumed_at == FIRST_CLIENT_STOPS_AT + BROKEN_OFF_AFTER
    assert second.offset == SIZE
    file_id = second.request.response_headers["upload-file-id"]
    with app.app_context():
        file = db.session.get(Node, file_id)
        assert (file.name, file.size, file.sha256) == ("big.zip", SIZE, sha256)
        assert get_storage().sha256(file.storage_key) == sha256
        owner = db.session.get(User, alice.id)
        assert (owner.used_bytes, owner.reserved_bytes) == (SIZE, 0)
        # The upload stays, complete, until it expires.
        [upload] = db.session.scalars(select(ResumableUpload)).all()
        assert (upload.offset, upload.file_id) == (SIZE, file_id)


def test_tuspy_retrying_a_lost_last_answer_gets_the_file_not_a_copy(
    app, alice, api_headers, gunicorn, monkeypatch, tmp_path
):
    content = os.urandom(3 * MiB + 4321)
    path = tmp_path / "notes.zip"
    path.write_bytes(content)
    send = requests.patch
    lost = []

    def lose_the_completing_answer(url, **options):
        # The server has every byte and made the file; the client hears nothing.
        response = send(url, **options)
        if "Upload-File-Id" in response.headers and not lost:
            lost.append(response.headers["Upload-File-Id"])
            response.close()
            raise requests.ConnectionError("the connection dropped")
        return response

    monkeypatch.setattr(requests, "patch", lose_the_completing_answer)
    with path.open("rb") as source:
        uploader = TusClient(
            f"http://127.0.0.1:{gunicorn}/api/v1/uploads", headers=api_headers(alice)
        ).uploader(
            file_stream=source,
            chunk_size=MiB,
            metadata={"filename": "notes.zip"},
            retries=1,
            retry_delay=0,
        )
        uploader.upload()

    assert uploader.offset == len(content)
    assert uploader.request.response_headers["upload-file-id"] == lost[0]
    [file] = live_nodes(app)
    assert (file.id, file.name, file.size) == (lost[0], "notes.zip", len(content))
    with app.app_context():
        assert db.session.get(User, alice.id).used_bytes == len(content)
