"""Writers: bytes on their way into the store, made durable before they count.

A BlobWriter receives one request's upload into a hidden temp file; a
ResumableWriter appends to a resumable upload over many requests; a
FinishedUpload turns a completed resumable upload into a blob. Each commits
with fsync and a rename, so a blob is either whole or absent.
"""

import errno
import os
import threading

from vault.errors import VaultError
from vault.storage.hashing import StreamHash, file_sha256

WRITE_BUFFER = 1024 * 1024
# While an upload arrives, its bytes are made durable in steps this large on a
# helper thread (see SyncBehind).
SYNC_BEHIND_BYTES = 16 * 1024 * 1024
HEAD_BYTES = 512


class StorageFull(VaultError):
    status = 507
    code = "storage_full"
    message = "The server's storage is full."


class BlobWriter:
    """Receives bytes into a hidden temp file; `commit` makes them a blob.

    The temp file sits next to its final name, so commit is a rename (no copy).
    SHA-256 (on a second thread, see StreamHash) and the size are computed on
    the way; the first bytes are kept for content sniffing.
    """

    def __init__(self, key: str, final_path: str, temp_path: str):
        self.key = key
        self.size = 0
        self.head = b""
        self.committed = False
        self._final_path = final_path
        self._temp_path = temp_path
        self._hash = StreamHash()
        self._file = open(  # noqa: SIM115
            temp_path, "xb", buffering=WRITE_BUFFER, opener=private_opener
        )
        self._durable = SyncBehind(self._file)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def write(self, data: bytes) -> int:
        if len(self.head) < HEAD_BYTES:
            self.head += bytes(data[: HEAD_BYTES - len(self.head)])
        try:
            self._file.write(data)
            self._durable.wrote(len(data))
        except OSError as error:
            _raise_storage_full(error)
            raise
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        # Werkzeug rewinds a finished upload part; nothing reads it back.
        return self.size

    def commit(self) -> None:
        """Flush to disk and move the blob into place."""
        try:
            self._durable.sync()
        except OSError as error:
            _raise_storage_full(error)
            raise
        self._file.close()
        os.replace(self._temp_path, self._final_path)
        fsync_path(os.path.dirname(self._final_path))
        self._hash.close()  # it ran on during the syncs
        self.committed = True

    def discard(self) -> None:
        """Drop the partial bytes; harmless after commit or a second call."""
        if self.committed:
            return
        self._hash.close()
        self._durable.close()
        self._file.close()
        try:
            os.unlink(self._temp_path)
        except FileNotFoundError:
            pass

    close = discard


def _raise_storage_full(error: OSError) -> None:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        raise StorageFull() from error


class ResumableWriter:
    """Appends to the bytes of a resumable upload, from its counted offset on.

    Whatever lies past that offset was written by a request that died before
    its bytes were made durable and counted: it is cut off first.
    """

    def __init__(self, path: str, offset: int):
        self._file = open(path, "r+b", buffering=WRITE_BUFFER)  # noqa: SIM115
        if os.fstat(self._file.fileno()).st_size < offset:
            # Bytes we counted are gone (the file was tampered with): the upload
            # cannot continue, just as if the file were missing.
            self._file.close()
            raise FileNotFoundError(errno.ENOENT, "shorter than its offset", path)
        self.offset = offset
        self._durable = SyncBehind(self._file)
        self.truncate(offset)

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
            self._durable.wrote(len(data))
        except OSError as error:
            _raise_storage_full(error)
            raise
        self.offset += len(data)

    def sync(self) -> None:
        """Make every byte written so far durable."""
        try:
            self._durable.sync()
        except OSError as error:
            _raise_storage_full(error)
            raise

    def truncate(self, offset: int) -> None:
        """Drop the bytes past `offset`; writing goes on from there."""
        self._durable.close()
        self._file.truncate(offset)
        self._file.seek(offset)
        self.offset = offset

    def close(self) -> None:
        self._durable.close()
        self._file.close()


class FinishedUpload:
    """A complete resumable upload, seen as a BlobWriter whose bytes are all in.

    Unless the caller knows their SHA-256 (hashed as they arrived), the bytes
    are read once, in large pieces, to hash them; `commit` moves the file into
    place as a blob, `discard` deletes it. `progress` is called after each
    piece (a long read must keep its lease).
    """

    def __init__(
        self,
        key: str,
        final_path: str,
        path: str,
        sha256: str | None = None,
        progress=None,
    ):
        self.key = key
        self.committed = False
        self._final_path, self._path = final_path, path
        with open(path, "rb", buffering=0) as partial:
            self.head = partial.read(HEAD_BYTES)
            if sha256 is None:
                sha256 = file_sha256(partial, progress)
            self.size = os.fstat(partial.fileno()).st_size
        self.sha256 = sha256

    def commit(self) -> None:
        """Flush to disk and move the blob into place."""
        fsync_path(self._path)
        os.replace(self._path, self._final_path)
        fsync_path(os.path.dirname(self._final_path))
        self.committed = True

    def discard(self) -> None:
        """Delete the bytes; harmless after commit or a second call."""
        if self.committed:
            return
        try:
            os.unlink(self._path)
        except FileNotFoundError:
            pass

    close = discard


class SyncBehind:
    """Makes a file's bytes durable in steps while more are written.

    Every SYNC_BEHIND_BYTES written, the file's buffer is flushed and
    fdatasync runs on a helper thread (one at a time): the disk writes the
    upload as it arrives, and the fsync before a commit waits for the last
    step only, not for the whole file at once. An error of the helper's
    (a full disk can show only now) is raised by the next `wrote` or `sync`.
    """

    def __init__(self, file):
        self._file = file
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None

    def wrote(self, count: int) -> None:
        self._pending += count
        if self._pending < SYNC_BEHIND_BYTES:
            return
        self._raise_error()
        if self._thread is not None and self._thread.is_alive():
            return  # the disk is behind: the next step takes what piles up
        self._file.flush()
        self._pending = 0
        self._thread = threading.Thread(target=self._sync, name="sync-behind")
        self._thread.start()

    def sync(self) -> None:
        """Make every byte written so far durable (flush and fsync)."""
        self._wait()
        self._raise_error()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._pending = 0

    def close(self) -> None:
        """Wait for the helper, dropping its error: the bytes are abandoned."""
        self._wait()
        self._error = None

    def _sync(self) -> None:
        try:
            os.fdatasync(self._file.fileno())
        except OSError as error:
            self._error = error

    def _wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def private_opener(path: str, flags: int) -> int:
    # Readable by the app's user only, whatever the umask.
    return os.open(path, flags, 0o600)


def fsync_path(path: str) -> None:
    """Make a file, or a directory's entries (a rename), durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
