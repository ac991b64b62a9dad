"""Reading local blobs: a range as an iterable, or a window a server can sendfile."""

import os
from collections.abc import Iterator

from vault.storage.hashing import READ_CHUNK


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


class FileWindow:
    """Bytes [start, stop) of a file, for a WSGI server's `wsgi.file_wrapper`.

    The file is open and positioned at `start`, so a server that sends files
    itself (gunicorn: sendfile(2) of Content-Length bytes from the current
    position) moves the bytes without Python touching them; a server that
    reads instead never gets a byte past `stop`.
    """

    def __init__(self, path: str, start: int, stop: int):
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115
        self._file.seek(start)
        self._stop = stop

    def read(self, size: int = -1) -> bytes:
        left = max(self._stop - self._file.tell(), 0)
        return self._file.read(left if size < 0 else min(size, left))

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        self._file.close()
