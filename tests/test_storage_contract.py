"""The storage contract: what every backend (local disk, S3) must do alike.

Each test runs on every backend; the S3 one talks to a real S3 API server
(moto, started by tests/s3server.py) through boto3.
"""

import hashlib
import os

import pytest

from tests.s3server import new_bucket
from vault.storage.base import BlobStore, StoredEntry
from vault.storage.local import LocalStorage
from vault.storage.s3 import S3Storage
from vault.storage.s3_writers import PART_BYTES

pytestmark = pytest.mark.bytes

NAMESPACE = "a" * 32
OTHER = "b" * 32
UPLOAD = "c" * 32
MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> BlobStore:
    if request.param == "local":
        return LocalStorage(str(tmp_path / "storage"))
    return S3Storage(new_bucket(), "vault")


def data_of(size: int, seed: int = 0) -> bytes:
    return bytes((seed + i * 7) % 251 for i in range(size))


def big_data(size: int) -> bytes:
    return os.urandom(size)


def read_all(store, key: str) -> bytes:
    return b"".join(store.read_range(key, 0, store.size(key)))


def entries(store, kind: str) -> list[StoredEntry]:
    return [entry for entry in store.scan() if entry.kind == kind]


def stored(store, data: bytes, namespace=NAMESPACE) -> str:
    writer = store.new_writer(namespace)
    writer.write(data)
    writer.commit()
    return writer.key


@pytest.mark.parametrize("size", [0, 11, PART_BYTES + 3 * MiB])
def test_a_blob_exists_only_once_committed_and_reads_back_whole(store, size):
    data = big_data(size)
    writer = store.new_writer(NAMESPACE)
    for start in range(0, size, MiB):
        writer.write(data[start : start + MiB])
    assert not store.exists(writer.key)

    writer.commit()

    assert store.exists(writer.key)
    assert store.size(writer.key) == writer.size == size
    assert read_all(store, writer.key) == data
    assert writer.sha256 == hashlib.sha256(data).hexdigest()
    assert store.sha256(writer.key) == writer.sha256
    assert writer.head == data[:512]
    assert writer.key.startswith(NAMESPACE + "/")


@pytest.mark.parametrize("size", [100, PART_BYTES + MiB])
def test_a_discarded_blob_leaves_nothing(store, size):
    writer = store.new_writer(NAMESPACE)
    writer.write(big_data(size))
    writer.discard()
    writer.discard()

    assert not store.exists(writer.key)
    assert entries(store, StoredEntry.BLOB) == []
    assert entries(store, StoredEntry.PARTIAL) == []


@pytest.mark.parametrize("size", [0, PART_BYTES + MiB])
def test_a_copy_keeps_the_key_another_store_made(store, size):
    data = big_data(size)
    key = f"{NAMESPACE}/{'e' * 32}"
    discarded = store.writer_at(f"{OTHER}/{'f' * 32}")
    discarded.write(data)
    discarded.discard()
    writer = store.writer_at(key)
    writer.write(data)
    assert not store.exists(key)

    writer.commit()

    assert writer.key == key
    assert read_all(store, key) == data
    assert writer.sha256 == hashlib.sha256(data).hexdigest()
    assert [entry.key for entry in entries(store, StoredEntry.BLOB)] == [key]
    assert entries(store, StoredEntry.PARTIAL) == []


@pytest.mark.parametrize("key", ["a" * 32, "a" * 32 + "/../x", "../" + "a" * 32])
def test_a_copy_under_a_key_the_vault_never_makes_is_refused(store, key):
    with pytest.raises(ValueError):
        store.writer_at(key)


def test_ranges_read_only_their_bytes(store):
    data = data_of(5000)
    key = stored(store, data)

    assert b"".join(store.read_range(key, 10, 20)) == data[10:20]
    assert b"".join(store.read_range(key, 4990, 5000)) == data[4990:]
    assert b"".join(store.read_range(key, 7, 7)) == b""


def test_a_missing_blob_fails_before_any_byte_is_read(store):
    key = f"{NAMESPACE}/{'d' * 32}"
    with pytest.raises(FileNotFoundError):
        store.read_range(key, 0, 10)
    with pytest.raises(FileNotFoundError):
        store.read_range(key, 0, 0)
    assert not store.exists(key)


def test_open_gives_a_seekable_copy(store):
    data = data_of(3000)
    key = stored(store, data)

    with store.open(key) as blob:
        blob.seek(1000)
        assert blob.read(10) == data[1000:1010]


def test_delete_removes_a_blob_and_is_harmless_twice(store):
    key = stored(store, b"gone soon")
    store.delete(key)
    store.delete(key)
    assert not store.exists(key)


@pytest.mark.parametrize("key", ["../" + "a" * 32, "a" * 32 + "/../x", "", "/etc"])
def test_keys_the_vault_never_makes_are_refused(store, key):
    with pytest.raises(ValueError):
        store.exists(key)


def test_delete_namespace_removes_only_that_namespace(store):
    mine = stored(store, b"mine")
    store.create_resumable(NAMESPACE, UPLOAD)
    theirs = stored(store, b"theirs", namespace=OTHER)

    store.delete_namespace(NAMESPACE)
    store.delete_namespace(NAMESPACE)

    assert not store.exists(mine)
    assert store.exists(theirs)
    assert [entry.namespace for entry in entries(store, StoredEntry.NAMESPACE)] == [
        OTHER
    ]


def append(store, offset: int, *pieces: bytes, sync=True) -> int:
    writer = store.append_resumable(NAMESPACE, UPLOAD, offset)
    try:
        for piece in pieces:
            writer.write(piece)
        if sync:
            writer.sync()
        return writer.offset
    finally:
        writer.close()


def finish(store, length: int, sha256=None):
    finished = store.finish_resumable(NAMESPACE, UPLOAD, length, sha256=sha256)
    finished.commit()
    return finished


@pytest.mark.parametrize(
    "chunks",
    [
        [b"", b"hello", b" world"],  # tiny requests, kept aside on S3
        [3 * MiB, 3 * MiB, PART_BYTES + MiB, 2 * MiB],  # parts and a tail
    ],
    ids=["small", "parts"],
)
def test_a_resumable_upload_grows_over_requests_and_becomes_a_blob(store, chunks):
    pieces = [big_data(c) if isinstance(c, int) else c for c in chunks]
    data = b"".join(pieces)
    store.create_resumable(NAMESPACE, UPLOAD)
    offset = 0
    for piece in pieces:
        offset = append(store, offset, piece)
    assert offset == len(data)

    finished = finish(store, len(data))

    assert finished.size == len(data)
    assert finished.sha256 == hashlib.sha256(data).hexdigest()
    assert finished.head == data[:512]
    assert read_all(store, finished.key) == data
    assert entries(store, StoredEntry.RESUMABLE) == []


def test_bytes_past_the_counted_offset_are_dropped_on_reopening(store):
    first, lost, second = big_data(6 * MiB), big_data(PART_BYTES + MiB), b"tail"
    store.create_resumable(NAMESPACE, UPLOAD)
    counted = append(store, 0, first)
    append(store, counted, lost)  # synced, but its count never committed
    append(store, counted, b"x" * 100, sync=False)  # never synced

    end = append(store, counted, second)

    assert read_all(store, finish(store, end).key) == first + second


def test_truncate_goes_back_to_the_counted_offset_within_a_request(store):
    first = big_data(2 * MiB)
    store.create_resumable(NAMESPACE, UPLOAD)
    counted = append(store, 0, first)
    writer = store.append_resumable(NAMESPACE, UPLOAD, counted)
    writer.write(big_data(PART_BYTES + 10))
    writer.truncate(counted)
    assert writer.offset == counted
    writer.write(b"verified")
    writer.sync()
    writer.close()

    finished = finish(store, counted + 8, sha256="f" * 64)

    assert read_all(store, finished.key) == first + b"verified"
    assert finished.sha256 == "f" * 64  # a hash the caller knew is not redone


def test_a_resumable_upload_whose_bytes_are_gone_cannot_go_on(store):
    with pytest.raises(FileNotFoundError):
        store.append_resumable(NAMESPACE, UPLOAD, 0)
    store.create_resumable(NAMESPACE, UPLOAD)
    store.delete_resumable(NAMESPACE, UPLOAD)
    store.delete_resumable(NAMESPACE, UPLOAD)
    with pytest.raises(FileNotFoundError):
        store.append_resumable(NAMESPACE, UPLOAD, 0)
    assert [entry for entry in store.scan() if entry.namespace is None] == []
    assert entries(store, StoredEntry.RESUMABLE) == []


def test_a_discarded_finished_upload_leaves_nothing(store):
    store.create_resumable(NAMESPACE, UPLOAD)
    end = append(store, 0, big_data(PART_BYTES + MiB))
    finished = store.finish_resumable(NAMESPACE, UPLOAD, end)

    finished.discard()

    assert not store.exists(finished.key)
    assert entries(store, StoredEntry.BLOB) == []
    assert entries(store, StoredEntry.RESUMABLE) == []


def test_scan_finds_namespaces_blobs_partials_and_resumable_uploads(store):
    key = stored(store, b"kept")
    partial = store.new_writer(NAMESPACE)
    partial.write(big_data(PART_BYTES))  # far enough to exist in the store
    store.create_resumable(NAMESPACE, UPLOAD)

    found = list(store.scan())

    assert found[0] == StoredEntry(StoredEntry.NAMESPACE, NAMESPACE, None, is_dir=True)
    [blob] = [entry for entry in found if entry.kind == StoredEntry.BLOB]
    assert (blob.key, blob.size) == (key, 4)
    assert blob.changed_at is not None
    [resumable] = [entry for entry in found if entry.kind == StoredEntry.RESUMABLE]
    assert (resumable.namespace, resumable.upload_id) == (NAMESPACE, UPLOAD)
    [unfinished] = [entry for entry in found if entry.kind == StoredEntry.PARTIAL]
    assert unfinished.namespace == NAMESPACE
    partial.discard()


def test_lost_found_keeps_what_it_is_given_and_scans_skip_it(store):
    key = stored(store, b"orphan bytes")
    [blob] = entries(store, StoredEntry.BLOB)

    target = store.move_to_lost_found(blob.namespace, blob.name)

    assert "lost+found" in target
    assert not store.exists(key)
    assert entries(store, StoredEntry.BLOB) == []
    assert store.lost_found_usage() == (1, len(b"orphan bytes"))


def test_a_whole_namespace_goes_to_lost_found(store):
    stored(store, b"one")
    stored(store, b"two")

    store.move_to_lost_found(NAMESPACE)

    assert list(store.scan()) == []
    assert store.lost_found_usage() == (2, 6)


def test_a_stale_partial_is_set_aside(store):
    partial = store.new_writer(NAMESPACE)
    partial.write(big_data(PART_BYTES))
    [entry] = entries(store, StoredEntry.PARTIAL)

    store.drop_partial(entry.namespace, entry.name)

    assert entries(store, StoredEntry.PARTIAL) == []
    with pytest.raises(FileNotFoundError):
        store.drop_partial(entry.namespace, entry.name)
    partial.discard()


def test_a_resumable_upload_goes_to_lost_found(store):
    store.create_resumable(NAMESPACE, UPLOAD)
    append(store, 0, b"abandoned")

    store.move_resumable_to_lost_found(NAMESPACE, UPLOAD)

    assert entries(store, StoredEntry.RESUMABLE) == []
    with pytest.raises(FileNotFoundError):
        store.append_resumable(NAMESPACE, UPLOAD, 9)
    with pytest.raises(FileNotFoundError):
        store.move_resumable_to_lost_found(NAMESPACE, UPLOAD)
