"""Big transfers with S3: parts cut exactly and sent beside the caller, memory
bounded; reads done a piece or two ahead.

These run on the test S3 server (moto, tests/s3server.py) through boto3.
"""

import hashlib
import os
import threading
import tracemalloc

import pytest

from tests.s3server import new_bucket
from vault.storage.read_ahead import ReadAhead
from vault.storage.s3 import S3Storage
from vault.storage.s3_parts import IN_FLIGHT, PART_BYTES, PartBuffers
from vault.storage.s3_writers import Multipart

NAMESPACE = "a" * 32
MiB = 1024 * 1024


@pytest.fixture
def store() -> S3Storage:
    return S3Storage(new_bucket(), "vault")


def unfinished_uploads(store: S3Storage) -> list:
    answer = store.client.list_multipart_uploads(Bucket=store.name)
    return answer.get("Uploads", [])


def test_a_big_upload_streams_in_bounded_memory(store):
    # 12 parts: memory must not grow with the size. A worker may grow by 32
    # MiB; the writer holds IN_FLIGHT + 1 parts, and the hashing 4 MiB.
    block = os.urandom(MiB)
    size = 12 * PART_BYTES + 3 * MiB
    # boto3 loads its service model on a client's first call (about 11 MiB).
    store.put(f"{NAMESPACE}/{'0' * 32}", b"warm")
    writer = store.new_writer(NAMESPACE)
    digest = hashlib.sha256()

    tracemalloc.start()
    for _ in range(size // MiB):
        writer.write(block)
        digest.update(block)
    writer.commit()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert peak < 32 * MiB, f"peak Python memory {peak / MiB:.1f} MiB"
    assert writer.sha256 == digest.hexdigest()
    assert store.size(writer.key) == size
    assert store.sha256(writer.key) == digest.hexdigest()


def test_a_part_that_fails_on_its_thread_fails_the_upload_and_leaves_nothing(
    store, monkeypatch
):
    original = Multipart.put_part

    def second_part_fails(self, number, data):
        if number == 2:
            raise OSError("the store went away")
        original(self, number, data)

    monkeypatch.setattr(Multipart, "put_part", second_part_fails)
    writer = store.new_writer(NAMESPACE)
    block = os.urandom(MiB)
    with pytest.raises(OSError, match="the store went away"):
        for _ in range(4 * PART_BYTES // MiB):
            writer.write(block)
        writer.commit()
    writer.discard()

    assert not store.exists(writer.key)
    assert unfinished_uploads(store) == []


@pytest.mark.parametrize("piece", [MiB, 3 * MiB + 7, PART_BYTES + 5])
def test_parts_are_cut_exactly_and_their_buffers_used_again(piece):
    data = os.urandom(6 * PART_BYTES + 12345)
    sent, buffers, in_flight = [], set(), []

    def send(part: bytearray):
        # As PartSender does: a buffer comes back once IN_FLIGHT are out.
        sent.append(bytes(part))
        buffers.add(id(part))
        in_flight.append(part)
        return in_flight.pop(0) if len(in_flight) > IN_FLIGHT else None

    parts = PartBuffers(send)
    for start in range(0, len(data), piece):
        parts.add(data[start : start + piece])
    rest = bytes(parts.rest())

    assert [len(part) for part in sent] == [PART_BYTES] * 6
    assert b"".join(sent) + rest == data
    assert len(buffers) == IN_FLIGHT + 1


def test_a_read_ahead_passes_every_piece_then_closes_its_source():
    closed = threading.Event()
    pieces = [os.urandom(100) for _ in range(10)]
    ahead = ReadAhead(iter(pieces), closed.set)
    assert list(ahead) == pieces
    assert closed.wait(5)


def test_a_read_ahead_stopped_early_closes_its_source():
    closed = threading.Event()
    endless = iter(lambda: b"x" * 1024, None)
    ahead = ReadAhead(endless, closed.set)
    first = next(iter(ahead))
    ahead.close()
    assert first == b"x" * 1024
    assert closed.wait(5)


def test_a_read_ahead_raises_its_sources_error():
    def failing():
        yield b"first"
        raise OSError("connection reset")

    ahead = ReadAhead(failing(), lambda: None)
    received = []
    with pytest.raises(OSError, match="connection reset"):
        for piece in ahead:
            received.append(piece)
    assert received == [b"first"]


def test_an_object_read_stopped_early_closes_its_body(store):
    key = f"{NAMESPACE}/{'1' * 32}"
    store.put(key, os.urandom(5 * MiB))
    body = store.read_range(key, 0, 5 * MiB)
    pieces = iter(body)
    assert len(next(pieces)) == MiB
    body.close()
    pieces.close()
    readers = [t for t in threading.enumerate() if t.name == "read-ahead"]
    for reader in readers:
        reader.join(5)
    assert [reader for reader in readers if reader.is_alive()] == []
