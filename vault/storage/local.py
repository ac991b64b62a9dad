"""Blobs on the local filesystem, written atomically.

A key is "<namespace>/<random name>", both made on the server, so no client-supplied
string ever becomes part of a path. The namespace is the owner's id: a person's
bytes stay under their own directory.
"""

import errno
import itertools
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from vault.storage.base import (
    KEY_PART,
    LOST_FOUND,
    StoredEntry,
    check_entry_name,
    check_key_part,
)
from vault.storage.hashing import file_sha256
from vault.storage.local_files import FileWindow, RangeReader
from vault.storage.writers import (
    BlobWriter,
    FinishedUpload,
    ResumableWriter,
    StorageFull,
    fsync_path,
    full_disk_as_storage_full,
    private_opener,
)

__all__ = ["BlobWriter", "LocalStorage", "ResumableWriter", "StorageFull"]

PARTIAL_PREFIX = ".partial-"
_PARTIAL = re.compile(re.escape(PARTIAL_PREFIX) + KEY_PART.pattern)
# The bytes of a resumable upload, named after its upload id: they grow over
# many requests and may wait a day for the next one, unlike a ".partial-" file.
RESUMABLE_PREFIX = ".resumable-"
_RESUMABLE = re.compile(re.escape(RESUMABLE_PREFIX) + KEY_PART.pattern)
# fsck's LOST_FOUND: <root>/lost+found/ for whole namespaces,
# <root>/<namespace>/lost+found/ for single files.


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None)


def _describe(
    kind: str, namespace: str | None, entry: os.DirEntry
) -> StoredEntry | None:
    """Return what `entry` is, or None if it vanished while we looked."""
    try:
        stat = entry.stat(follow_symlinks=False)
    except FileNotFoundError:
        return None
    is_dir = entry.is_dir(follow_symlinks=False)
    return StoredEntry(
        kind=kind,
        namespace=namespace,
        name=entry.name,
        size=0 if is_dir else stat.st_size,
        is_dir=is_dir,
        modified_at=_utc(stat.st_mtime),
        changed_at=_utc(max(stat.st_mtime, stat.st_ctime)),
        upload_id=entry.name.removeprefix(RESUMABLE_PREFIX)
        if kind == StoredEntry.RESUMABLE
        else None,
    )


def _kind_in_namespace(entry: os.DirEntry) -> str:
    if not entry.is_file(follow_symlinks=False):
        return StoredEntry.STRAY
    if KEY_PART.fullmatch(entry.name):
        return StoredEntry.BLOB
    if _PARTIAL.fullmatch(entry.name):
        return StoredEntry.PARTIAL
    if _RESUMABLE.fullmatch(entry.name):
        return StoredEntry.RESUMABLE
    return StoredEntry.STRAY


def _move_without_replacing(source: str, directory: str, name: str) -> str:
    """Move `source` into `directory` as `name`, or `name.1`, ... if taken.

    A plain rename would silently replace a file of the same name, so files
    are linked under the new name (which fails if it exists) and then
    unlinked; a directory rename already refuses a non-empty target.
    """
    is_dir = os.path.isdir(source) and not os.path.islink(source)
    for attempt in itertools.count():
        target = os.path.join(directory, f"{name}.{attempt}" if attempt else name)
        try:
            if is_dir:
                os.rename(source, target)
            else:
                os.link(source, target, follow_symlinks=False)
                os.unlink(source)
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                continue
            raise
        return target
    raise AssertionError("unreachable")


class LocalStorage:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def _path(self, key: str) -> str:
        namespace, _, name = key.partition("/")
        return os.path.join(self.root, check_key_part(namespace), check_key_part(name))

    def new_writer(self, namespace: str) -> BlobWriter:
        """Start a new blob under `namespace` with a fresh random key."""
        return self.writer_at(f"{namespace}/{secrets.token_hex(16)}")

    def writer_at(self, key: str) -> BlobWriter:
        final_path = self._path(key)
        directory = os.path.dirname(final_path)
        with full_disk_as_storage_full():
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            os.makedirs(directory, mode=0o700, exist_ok=True)
        temp_path = os.path.join(directory, PARTIAL_PREFIX + secrets.token_hex(16))
        return BlobWriter(key, final_path, temp_path)

    def path(self, key: str) -> str:
        """Return a blob's absolute path, for a proxy that sends the file itself."""
        return self._path(key)

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

    def delete_namespace(self, namespace: str) -> None:
        """Remove a namespace and everything in it; harmless if it is not there."""
        path = os.path.join(self.root, check_key_part(namespace))
        try:
            shutil.rmtree(path)
        except FileNotFoundError:
            pass

    def _resumable_path(self, namespace: str, upload_id: str) -> str:
        name = RESUMABLE_PREFIX + check_key_part(upload_id)
        return os.path.join(self.root, check_key_part(namespace), name)

    def create_resumable(self, namespace: str, upload_id: str) -> None:
        """Create the empty file a resumable upload's bytes go into."""
        path = self._resumable_path(namespace, upload_id)
        with full_disk_as_storage_full():
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            os.close(private_opener(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
            fsync_path(os.path.dirname(path))

    def append_resumable(
        self, namespace: str, upload_id: str, offset: int
    ) -> ResumableWriter:
        """Open a resumable upload's bytes to append at `offset`.

        Raises FileNotFoundError if they are gone.
        """
        return ResumableWriter(self._resumable_path(namespace, upload_id), offset)

    def finish_resumable(
        self,
        namespace: str,
        upload_id: str,
        length: int,
        sha256: str | None = None,
        progress=None,
    ) -> FinishedUpload:
        """Return a complete resumable upload, to commit as a new blob.

        Its file holds exactly its `length` bytes (appending stops there).
        Without its `sha256`, the bytes are read to compute it.
        """
        name = secrets.token_hex(16)
        return FinishedUpload(
            f"{namespace}/{name}",
            os.path.join(self.root, check_key_part(namespace), name),
            self._resumable_path(namespace, upload_id),
            sha256,
            progress,
        )

    def delete_resumable(self, namespace: str, upload_id: str) -> None:
        try:
            os.unlink(self._resumable_path(namespace, upload_id))
        except FileNotFoundError:
            pass

    def sha256(self, key: str) -> str:
        """Return the SHA-256 of a blob, read in large pieces."""
        with open(self._path(key), "rb", buffering=0) as blob:
            return file_sha256(blob)

    def scan(self) -> Iterator[StoredEntry]:
        """Yield every namespace, then what it holds; skip lost+found areas.

        Streams the directories, so a large store is never listed in memory.
        Things removed while the scan runs are skipped, not errors.
        """
        try:
            top = os.scandir(self.root)
        except FileNotFoundError:
            return
        with top:
            for entry in top:
                if entry.name == LOST_FOUND:
                    continue
                if KEY_PART.fullmatch(entry.name) and entry.is_dir(
                    follow_symlinks=False
                ):
                    kind = StoredEntry.NAMESPACE
                    yield StoredEntry(kind, entry.name, None, is_dir=True)
                    yield from self._scan_namespace(entry.name)
                elif found := _describe(StoredEntry.STRAY, None, entry):
                    yield found

    def _scan_namespace(self, namespace: str) -> Iterator[StoredEntry]:
        try:
            entries = os.scandir(os.path.join(self.root, namespace))
        except (FileNotFoundError, NotADirectoryError):
            return
        with entries:
            for entry in entries:
                if entry.name == LOST_FOUND:
                    continue
                found = _describe(_kind_in_namespace(entry), namespace, entry)
                if found:
                    yield found

    def move_to_lost_found(self, namespace: str | None, name: str | None = None) -> str:
        """Move something aside instead of deleting it; return where it went.

        With a name, the entry `name` of `namespace` goes to
        <namespace>/lost+found/; with no name, the whole namespace goes to
        lost+found/<namespace>; with no namespace, the entry `name` directly
        under the root goes to lost+found/. Raises FileNotFoundError if it is
        gone, ValueError for a namespace or name that is not valid.
        """
        if namespace is None and name is None:
            raise ValueError("nothing to move")
        if namespace is not None:
            check_key_part(namespace)
        if name is not None:
            check_entry_name(name)
        if namespace is not None and name is not None:
            source = os.path.join(self.root, namespace, name)
            directory = os.path.join(self.root, namespace, LOST_FOUND)
        else:
            name = namespace or name
            source = os.path.join(self.root, name)
            directory = os.path.join(self.root, LOST_FOUND)
        if not os.path.lexists(source):
            raise FileNotFoundError(source)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        target = _move_without_replacing(source, directory, name)
        fsync_path(os.path.dirname(source))
        fsync_path(directory)
        return target

    def drop_partial(self, namespace: str, name: str) -> str:
        """Move a stale partial blob to lost+found; return where it went."""
        return self.move_to_lost_found(namespace, name)

    def move_resumable_to_lost_found(self, namespace: str, upload_id: str) -> str:
        """Move a resumable upload's bytes aside; FileNotFoundError if gone."""
        return self.move_to_lost_found(namespace, RESUMABLE_PREFIX + upload_id)

    def capacity(self) -> tuple[int, int]:
        """Return the free and total bytes of the storage root's volume."""
        # The root appears with the first upload; until then its volume is
        # the one of the nearest folder above it.
        path = self.root
        while not os.path.isdir(path) and os.path.dirname(path) != path:
            path = os.path.dirname(path)
        usage = shutil.disk_usage(path)
        return usage.free, usage.total

    def lost_found_usage(self) -> tuple[int, int]:
        """Return how many files the lost+found areas hold, and their bytes."""
        areas = [os.path.join(self.root, LOST_FOUND)]
        try:
            with os.scandir(self.root) as top:
                areas += [
                    os.path.join(entry.path, LOST_FOUND)
                    for entry in top
                    if KEY_PART.fullmatch(entry.name)
                    and entry.is_dir(follow_symlinks=False)
                ]
        except FileNotFoundError:
            return 0, 0
        files = size = 0
        for area in areas:
            for directory, _, names in os.walk(area):
                for name in names:
                    try:
                        size += os.lstat(os.path.join(directory, name)).st_size
                    except FileNotFoundError:
                        continue
                    files += 1
        return files, size

    def read_range(self, key: str, start: int, stop: int) -> RangeReader:
        """Return an iterable over bytes [start, stop) of a blob, after one seek.

        A missing blob fails now, before any response starts; the file is opened
        only when iteration begins, so an unread response (HEAD) holds no handle.
        """
        path = self._path(key)
        if not os.path.isfile(path):
            raise FileNotFoundError(path)
        return RangeReader(path, start, stop - start)

    def open_window(self, key: str, start: int, stop: int) -> FileWindow:
        """Open bytes [start, stop) of a blob as a file a server can sendfile."""
        return FileWindow(self._path(key), start, stop)
