"""Uploads stream into storage: bounded memory, one write, nothing left on failure."""

import hashlib
import io
import os
import tempfile
import tracemalloc

import pytest

from tests.helpers import (
    BOUNDARY,
    PATTERN,
    MultipartBody,
    assert_nothing_stored,
    blobs,
    post_body,
)
from vault.extensions import db
from vault.storage import get_storage

pytestmark = pytest.mark.bytes


def expected_sha256(size: int) -> str:
    digest = hashlib.sha256()
    for start in range(0, size, len(PATTERN)):
        digest.update(PATTERN[: min(len(PATTERN), size - start)])
    return digest.hexdigest()


@pytest.fixture
def app_config(app_config):
    app_config["MAX_UPLOAD_BYTES"] = 256 * 1024 * 1024
    return app_config


# An S3 writer holds the 8 MiB part it sends, and botocore copies of it: its
# memory is bounded by parts (measured: 18 MiB peak for 32 and 64 MiB uploads),
# not by this test's 8 MiB.
@pytest.mark.local_storage
def test_large_upload_is_streamed_once_in_bounded_memory(
    app, client, alice, api_headers, monkeypatch, tmp_path
):
    size = 64 * 1024 * 1024
    headers = api_headers(alice)
    written = []
    with app.app_context():
        store = get_storage()
    original_new_writer = store.new_writer

    def counted_writer(namespace):
        writer = original_new_writer(namespace)
        original_write = writer.write
        monkeypatch.setattr(
            writer,
            "write",
            lambda data: written.append(len(data)) or original_write(data),
        )
        return writer

    monkeypatch.setattr(store, "new_writer", counted_writer)
    spare_temp = tmp_path / "system-temp"
    spare_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare_temp))

    tracemalloc.start()
    response = post_body(client, headers, MultipartBody("big.bin.zip", size))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert response.status_code == 201, response.get_json()
    [stored] = response.get_json()["files"]
    assert stored["size"] == size
    assert stored["sha256"] == expected_sha256(size)
    assert peak < 8 * 1024 * 1024, f"peak Python memory {peak} bytes"
    assert sum(written) == size  # each byte written once, no second copy
    assert list(spare_temp.iterdir()) == []  # no spooled temporary file
    [(key, content)] = blobs(app).items()
    assert len(content) == size
    assert key.startswith(f"{alice.id}/")


def test_random_bytes_stream_through_the_multipart_parser(client, alice, api_headers):
    # Random data makes the parser hold back more of each read than patterned
    # data does; the form memory limit must leave room for it.
    content = os.urandom(3_000_000)
    framing = MultipartBody("random.zip", 0)
    response = client.post(
        "/api/v1/files",
        input_stream=io.BytesIO(framing.head + content + framing.tail),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers=api_headers(alice),
    )
    assert response.status_code == 201, response.get_json()
    assert (
        response.get_json()["files"][0]["sha256"] == hashlib.sha256(content).hexdigest()
    )


def test_client_disconnect_mid_upload_leaves_nothing(app, client, alice, api_headers):
    body = MultipartBody("cut.zip", 4 * 1024 * 1024, stop_after=2 * 1024 * 1024)
    response = post_body(client, api_headers(alice), body)
    assert response.status_code == 400
    assert_nothing_stored(app)


def test_database_error_removes_the_committed_blob(
    app, client, alice, api_headers, monkeypatch
):
    headers = api_headers(alice)

    def broken_commit():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "commit", broken_commit)
    with pytest.raises(RuntimeError, match="database went away"):
        post_body(client, headers, MultipartBody("a.zip", 100_000))
    monkeypatch.undo()
    assert_nothing_stored(app)


def test_over_the_cap_is_refused_before_reading(app, client, alice, api_headers):
    app.config["MAX_UPLOAD_BYTES"] = 1024 * 1024
    body = MultipartBody("big.zip", 2 * 1024 * 1024)
    response = post_body(client, api_headers(alice), body)
    assert response.status_code == 413
    assert "limit" in response.get_json()["error"]["message"]
    assert body.position < 1024 * 1024
    assert_nothing_stored(app)
