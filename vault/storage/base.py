"""What every byte store offers, and what only some can.

The services see a store through `BlobStore` alone; `vault.storage` picks the
backend once, at start, from VAULT_STORAGE_URL. A key is
"<namespace>/<name>": the namespace is the owner's id, the name random, both
made on the server, so no client-supplied string ever reaches a path or an
object key.

Optional capabilities are separate protocols a backend may or may not
implement; ask with `isinstance` (they are runtime-checkable), never by
backend class:

- `LocalPaths`: blobs are files on this machine (a proxy's X-Accel-Redirect or
  X-Sendfile, and sendfile(2), need a path);
- `Capacity`: the store can say how much room is left;
- `PresignedUrls`: the store can sign a short-lived URL that serves one blob
  itself (downloads may redirect there, see VAULT_S3_PRESIGNED_DOWNLOADS).

A capability joins this list with its first caller (server-side copies are
next).
"""

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable

# The first bytes of every upload are kept for content sniffing.
HEAD_BYTES = 512
# Where fsck puts what it will not delete.
LOST_FOUND = "lost+found"
# Both parts of a key: 32 hex digits, made on the server.
KEY_PART = re.compile(r"[0-9a-f]{32}")


def check_entry_name(name: str) -> str:
    """Return a name found by a scan; ValueError for one that leaves its area."""
    # Names come from a listing, so any name is possible, but never one that
    # leaves its directory or is the lost+found area itself.
    if name in ("", ".", "..", LOST_FOUND) or "/" in name or "\0" in name:
        raise ValueError(f"invalid entry name: {name!r}")
    return name


def check_key_part(part: str) -> str:
    """Return a namespace or name; ValueError if the server could not have made it.

    Defence in depth: keys are always made by the vault, but anything else is
    refused, so a bug elsewhere cannot reach outside a namespace.
    """
    if not KEY_PART.fullmatch(part):
        raise ValueError(f"invalid storage key part: {part!r}")
    return part


class BlobWriter(Protocol):
    """Bytes on their way to becoming one blob; whole after `commit`, or absent.

    `size`, `head` (the first HEAD_BYTES) and `sha256` describe what was
    written. `discard` never raises and is harmless after `commit` or twice:
    it runs while another error is on its way out.
    """

    key: str
    size: int
    head: bytes

    @property
    def sha256(self) -> str: ...

    def write(self, data: bytes) -> int: ...

    def commit(self) -> None: ...

    def discard(self) -> None: ...


class ResumableWriter(Protocol):
    """Appends to a resumable upload's bytes from its counted offset on.

    Bytes past the counted offset (written by a request that died before they
    were counted) are dropped when it opens. `offset` is where the next byte
    goes; `sync` makes everything written so far durable, so the caller may
    count it; `truncate` drops what was written past an offset that is durable.
    """

    offset: int

    def write(self, data: bytes) -> None: ...

    def sync(self) -> None: ...

    def truncate(self, offset: int) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class StoredEntry:
    """One thing found in the store by `BlobStore.scan`.

    `kind` is NAMESPACE (an owner's area), BLOB, PARTIAL (a blob still being
    written, or left by a writer that died), RESUMABLE (the bytes of a
    resumable upload so far; `upload_id` names it) or STRAY (a name the vault
    never makes). `namespace` is None for what sits outside every namespace;
    `name` is None for a namespace itself. Times are naive UTC.
    """

    NAMESPACE = "namespace"
    BLOB = "blob"
    PARTIAL = "partial"
    RESUMABLE = "resumable"
    STRAY = "stray"

    kind: str
    namespace: str | None
    name: str | None
    size: int = 0
    is_dir: bool = False
    modified_at: datetime | None = None
    # The later of the last write and the last rename: a blob's age in place.
    changed_at: datetime | None = None
    upload_id: str | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def path(self) -> str:
        """The entry's place in the store, for messages."""
        return "/".join(part for part in (self.namespace, self.name) if part)


class BlobStore(Protocol):
    """Keys and bytes: never users, names or folders."""

    def new_writer(self, namespace: str) -> BlobWriter:
        """Start a new blob under `namespace` with a fresh random key."""

    def writer_at(self, key: str) -> BlobWriter:
        """Start a blob under a key another store made; commit replaces it.

        For copying a store (`flask storage migrate`): a key is made once, by
        `new_writer`, and keeps its name in every store. Meant for a key this
        store lacks: discarding may also drop a blob already there.
        """

    def open(self, key: str) -> BinaryIO:
        """Open a blob for reading (seekable); FileNotFoundError if it is gone."""

    def read_range(self, key: str, start: int, stop: int) -> Iterable[bytes]:
        """Return bytes [start, stop) in large pieces.

        A missing blob raises FileNotFoundError now, before any response
        starts; nothing is held open until iteration begins.
        """

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def sha256(self, key: str) -> str:
        """Return the SHA-256 of a blob, reading it in large pieces."""

    def delete(self, key: str) -> None:
        """Delete a blob; harmless if it is not there."""

    def delete_namespace(self, namespace: str) -> None:
        """Remove a namespace and everything in it; harmless if it is not there."""

    def create_resumable(self, namespace: str, upload_id: str) -> None:
        """Make the empty, durable start of a resumable upload's bytes."""

    def append_resumable(
        self, namespace: str, upload_id: str, offset: int
    ) -> ResumableWriter:
        """Open a resumable upload to append at `offset` (its counted bytes).

        Raises FileNotFoundError if its bytes are gone or shorter than that.
        """

    def finish_resumable(
        self,
        namespace: str,
        upload_id: str,
        length: int,
        sha256: str | None = None,
        progress: Callable[[], None] | None = None,
    ) -> BlobWriter:
        """Return a complete resumable upload as a writer whose bytes are all in.

        `length` is the upload's length, every byte of it synced by its writer.
        Without its `sha256`, the bytes are read once to compute it, calling
        `progress` between pieces. Committing it makes the blob and ends the
        upload's bytes; discarding it deletes them.
        """

    def delete_resumable(self, namespace: str, upload_id: str) -> None:
        """Drop a resumable upload's bytes; harmless if they are gone."""

    def scan(self) -> Iterator[StoredEntry]:
        """Yield every namespace, then what it holds; skip lost+found.

        Streams, so a large store is never listed in memory; things removed
        while the scan runs are skipped, not errors.
        """

    def move_to_lost_found(self, namespace: str | None, name: str | None = None) -> str:
        """Move a scanned entry aside instead of deleting it; return where it went.

        With a name, the entry `name` of `namespace`; with no name, the whole
        namespace; with no namespace, the entry `name` outside every namespace.
        Raises FileNotFoundError if it is gone, ValueError for a namespace or
        name the store could not have listed.
        """

    def drop_partial(self, namespace: str, name: str) -> str | None:
        """Set aside a PARTIAL entry fsck found stale; return where it went.

        A store that can keep the bytes moves them to lost+found; one whose
        partial bytes cannot be read (an unfinished multipart upload) drops
        them and returns None. FileNotFoundError if it is gone.
        """

    def move_resumable_to_lost_found(self, namespace: str, upload_id: str) -> str:
        """Move a resumable upload's bytes aside; FileNotFoundError if gone."""

    def lost_found_usage(self) -> tuple[int, int]:
        """Return how many files the lost+found areas hold, and their bytes."""


@runtime_checkable
class LocalPaths(Protocol):
    """Blobs are files on this machine."""

    root: str

    def path(self, key: str) -> str:
        """Return a blob's absolute path, for a proxy that sends it itself."""

    def open_window(self, key: str, start: int, stop: int):
        """Open bytes [start, stop) as a file a WSGI server can sendfile."""


@runtime_checkable
class Capacity(Protocol):
    """The store knows how much room it has left."""

    def capacity(self) -> tuple[int, int]:
        """Return the bytes free and the bytes in all where the blobs go."""


@runtime_checkable
class PresignedUrls(Protocol):
    """The store can hand out a short-lived URL that serves one blob itself."""

    def presigned_url(
        self, key: str, *, disposition: str, content_type: str, expires: int
    ) -> str:
        """Sign a GET of a blob for `expires` seconds.

        Whoever holds the URL may read the blob until then: it is a bearer
        token. The store answers it with exactly this `Content-Disposition`
        and `Content-Type`; nothing is checked or fetched now.
        """
