"""Writers: bytes on their way into the store, made durable before they count.

A BlobWriter receives one request's upload into a hidden temp file; a
ResumableWriter appends to a resumable upload over many requests; a
FinishedUpload turns a completed resumable upload into a blob. Each commits
with fsync and a rename, so a blob is either whole or absent.
"""

import errno
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from vault.errors import StorageFull
from vault.storage.base import HEAD_BYTES
from vault.storage.hashing import Tally, file_sha256

WRITE_BUFFER = 1024 * 1024
# While an upload arrives, its bytes are made durable in steps this large on a
# helper thread (see SyncBehind).
SYNC_BEHIND_BYTES = 16 * 1024 * 1024

log = logging.getLogger(__name__)


class BlobWriter:
    """Receives bytes into a hidden temp file; `commit` makes them a blob.

    The temp file sits next to its final name, so commit is a rename (no copy).
    SHA-256 (on a second thread, see StreamHash) and the size are computed on
    the way; the first bytes are kept for content sniffing.
    """

    def __init__(self, key: str, final_path: str, temp_path: str):
        self.key = key
        self.committed = False
        self._final_path = final_path
        self._temp_path = temp_path
        self._tally = Tally(HEAD_BYTES)
        with full_disk_as_storage_full():  # a full disk may refuse a new file
            self._file = open(  # noqa: SIM115
                temp_path, "xb", buffering=WRITE_BUFFER, opener=private_opener
            )
        self._durable = SyncBehind(self._file)

    @property
    def size(self) -> int:
        return self._tally.size

    @property
    def head(self) -> bytes:
        return self._tally.head

    @property
    def sha256(self) -> str:
        return self._tally.hexdigest()

    def write(self, data: bytes) -> int:
        with full_disk_as_storage_full():
            self._file.write(data)
            self._durable.wrote(len(data))
        self._tally.add(data)
        return len(data)

    def commit(self) -> None:
        """Flush to disk and move the blob into place."""
        with full_disk_as_storage_full():
            self._durable.sync()
            self._file.close()
            os.replace(self._temp_path, self._final_path)
            fsync_path(os.path.dirname(self._final_path))
        self._tally.close()  # hashing ran on during the syncs
        self.committed = True

    def discard(self) -> None:
        """Drop the partial bytes; harmless after commit or a second call.

        Never raises: it runs while another error is on its way out, and a
        full disk must not keep the bytes that filled it.
        """
        if self.committed:
            return
        self._tally.close()
        self._durable.close()
        close_quietly(self._file)
        # A commit that failed after its rename left the bytes under their
        # final name, which no row names yet.
        remove_quietly(self._temp_path)
        remove_quietly(self._final_path)


@contextmanager
def full_disk_as_storage_full() -> Iterator[None]:
    """Raise StorageFull where the disk (or its own quota) has no room left."""
    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull() from error
        raise


def close_quietly(file) -> None:
    """Close a file whose bytes are abandoned, even if its buffer cannot be flushed.

    A buffered file closes its descriptor even when the flush fails; the
    error (a full disk, typically) is about bytes nobody wants any more.
    """
    try:
        file.close()
    except OSError as error:
        log.warning("Dropped unwritten bytes of an abandoned file: %s", error)


def remove_quietly(path: str) -> None:
    """Delete a file if it is there; log, never raise, if that fails."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as error:  # fsck finds what is left, as after a crash
        log.warning("Could not remove %s: %s", path, error)


class ResumableWriter:
    """Appends to the bytes of a resumable upload, from its counted offset on.

    Whatever lies past that offset was written by a request that died before
    its bytes were made durable and counted: it is cut off first.
    """

    def __init__(self, path: str, offset: int):
        self._path = path
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
        with full_disk_as_storage_full():
            self._file.write(data)
            self._durable.wrote(len(data))
        self.offset += len(data)

    def sync(self) -> None:
        """Make every byte written so far durable."""
        with full_disk_as_storage_full():
            self._durable.sync()

    def truncate(self, offset: int) -> None:
        """Drop the bytes past `offset`; writing goes on from there."""
        self._durable.close()
        try:
            self._file.truncate(offset)  # flushes the buffer first
        except OSError:
            # The disk refused the buffered bytes: they go with the file
            # object (they lie past `offset` anyway), and a fresh one cuts.
            close_quietly(self._file)
            self._file = open(self._path, "r+b", buffering=WRITE_BUFFER)  # noqa: SIM115
            self._durable = SyncBehind(self._file)
            self._file.truncate(offset)
        self._file.seek(offset)
        self.offset = offset

    def close(self) -> None:
        """Let go of the file; never raises (bytes not synced are not counted)."""
        self._durable.close()
        close_quietly(self._file)


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
        with full_disk_as_storage_full():
            fsync_path(self._path)
            os.replace(self._path, self._final_path)
            fsync_path(os.path.dirname(self._final_path))
        self.committed = True

    def discard(self) -> None:
        """Delete the bytes; never raises, harmless after commit or a second call."""
        if self.committed:
            return
        remove_quietly(self._path)
        remove_quietly(self._final_path)


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
