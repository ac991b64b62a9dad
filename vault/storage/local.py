"""Blobs on the local filesystem, written atomically.

A key is "<namespace>/<random name>", both made on the server, so no client-supplied
string ever becomes part of a path. The namespace is the owner's id: a person's
bytes stay under their own directory.
"""

import errno
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from typing import BinaryIO

from vault.errors import VaultError

_HEX32 = re.compile(r"[0-9a-f]{32}")
WRITE_BUFFER = 1024 * 1024
READ_CHUNK = 1024 * 1024
HEAD_BYTES = 512


class StorageFull(VaultError):
    status = 507
    code = "storage_full"
    message = "The server's storage is full."


def _check_part(part: str) -> str:
    # Defence in depth: keys are always made here, but refuse anything that is not
    # exactly what we make, so a bug elsewhere cannot walk out of the root.
    if not _HEX32.fullmatch(part):
        raise ValueError(f"invalid storage key part: {part!r}")
    return part


class BlobWriter:
    """Receives bytes into a hidden temp file; `commit` makes them a blob.

    The temp file sits next to its final name, so commit is a rename (no copy).
    SHA-256 and the size are computed on the way; the first bytes are kept for
    content sniffing.
    """

    def __init__(self, key: str, final_path: str, temp_path: str):
        self.key = key
        self.size = 0
        self.head = b""
        self.committed = False
        self._final_path = final_path
        self._temp_path = temp_path
        self._hash = hashlib.sha256()
        self._file = open(  # noqa: SIM115
            temp_path, "xb", buffering=WRITE_BUFFER, opener=_private_opener
        )

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def write(self, data: bytes) -> int:
        if len(self.head) < HEAD_BYTES:
            self.head += bytes(data[: HEAD_BYTES - len(self.head)])
        try:
            self._file.write(data)
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull() from error
            raise
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        # Werkzeug rewinds a finished upload part; nothing reads it back.
        return self.size

    def commit(self) -> None:
        """Flush to disk and move the blob into place."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temp_path, self._final_path)
        _fsync_directory(os.path.dirname(self._final_path))
        self.committed = True

    def discard(self) -> None:
        """Drop the partial bytes; harmless after commit or a second call."""
        if self.committed:
            return
        self._file.close()
        try:
            os.unlink(self._temp_path)
        except FileNotFoundError:
            pass

    close = discard


def _private_opener(path: str, flags: int) -> int:
    # Readable by the app's user only, whatever the umask.
    return os.open(path, flags, 0o600)


def _fsync_directory(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def _path(self, key: str) -> str:
        namespace, _, name = key.partition("/")
        return os.path.join(self.root, _check_part(namespace), _check_part(name))

    def new_writer(self, namespace: str) -> BlobWriter:
        """Start a new blob under `namespace` with a fresh random key."""
        directory = os.path.join(self.root, _check_part(namespace))
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        name = secrets.token_hex(16)
        temp_path = os.path.join(directory, f".partial-{secrets.token_hex(16)}")
        return BlobWriter(
            f"{namespace}/{name}", os.path.join(directory, name), temp_path
        )

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")  # noqa: SIM115

    def size(self, key: str) -> int:
        return os.path.getsize(self._path(key))

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass

    def read_range(self, key: str, start: int, stop: int) -> "RangeReader":
        """Return an iterable over bytes [start, stop) of a blob, after one seek.

        A missing blob fails now, before any response starts; the file is opened
        only when iteration begins, so an unread response (HEAD) holds no handle.
        """
        path = self._path(key)
        if not os.path.isfile(path):
            raise FileNotFoundError(path)
        return RangeReader(path, start, stop - start)


class RangeReader:
    """Iterate over part of a file in large chunks."""

    def __init__(self, path: str, start: int, length: int):
        self._path = path
        self._start = start
        self._length = length

    def __iter__(self) -> Iterator[bytes]:
        remaining = self._length
        with open(self._path, "rb") as blob:
            blob.seek(self._start)
            while remaining > 0:
                chunk = blob.read(min(READ_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
