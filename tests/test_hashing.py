"""StreamHash: SHA-256 on a second thread, the same as hashing in line."""

import hashlib
import os
import threading

import pytest

from vault.storage import hashing
from vault.storage.hashing import StreamHash

MiB = 1024 * 1024


def pieces(data: bytes, size: int):
    return [data[start : start + size] for start in range(0, len(data), size)]


@pytest.mark.parametrize(
    "length, piece",
    [
        (0, 1),
        (1000, 100),
        (4 * MiB, 64 * 1024),
        (9 * MiB + 3, 64 * 1024),
        (9 * MiB, MiB),
    ],
)
def test_the_digest_is_sha256_of_every_byte(length, piece):
    data = os.urandom(length)
    digest = StreamHash()

    for part in pieces(data, piece):
        digest.update(part)

    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_small_streams_start_no_thread():
    before = threading.active_count()
    digest = StreamHash()

    digest.update(b"x" * (hashing.INLINE_BYTES - 1))

    assert threading.active_count() == before
    assert (
        digest.hexdigest()
        == hashlib.sha256(b"x" * (hashing.INLINE_BYTES - 1)).hexdigest()
    )


def test_a_copy_midway_holds_the_bytes_so_far_and_hashing_goes_on():
    first, second = os.urandom(6 * MiB), os.urandom(5 * MiB)
    digest = StreamHash()
    for part in pieces(first, MiB):
        digest.update(part)

    midway = digest.copy()
    for part in pieces(second, MiB):
        digest.update(part)

    assert midway.hexdigest() == hashlib.sha256(first).hexdigest()
    assert digest.hexdigest() == hashlib.sha256(first + second).hexdigest()
    resumed = StreamHash(midway)
    resumed.update(second)
    assert resumed.hexdigest() == digest.hexdigest()


def test_mutable_buffers_are_copied_before_the_thread_sees_them():
    buffer = bytearray(b"a" * (8 * MiB))
    digest = StreamHash()

    digest.update(buffer)
    buffer[:] = b"b" * len(buffer)  # the caller reuses its buffer at once

    assert digest.hexdigest() == hashlib.sha256(b"a" * (8 * MiB)).hexdigest()


def test_close_ends_the_thread():
    digest = StreamHash()
    digest.update(os.urandom(8 * MiB))
    threads = {thread.name for thread in threading.enumerate()}
    assert "sha256" in threads

    digest.close()

    assert "sha256" not in {thread.name for thread in threading.enumerate()}
