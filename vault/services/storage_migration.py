"""Move every blob to another store, then switch the vault over to it.

`flask --app vault storage migrate --to URL` copies in passes while the vault
keeps serving: each pass walks every stored key in the database (files, in
the trash too, and thumbnails), skips what the target already holds, and
streams the rest through the target's writer, hashing on the way. A copy whose
SHA-256 differs from its row is discarded and reported. Passes repeat until
one copies nothing; then the switch-over is recorded (storage_switch) and
app servers use the target from their next start. Nothing is ever deleted
from the source.

Why an object of the right size in the target is trusted without reading it
again: it can only be there through this module's `writer_at(...).commit()`,
which is atomic in every store and runs only after the hash matched, and keys
are 128 random bits made once, never reused for other bytes.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from vault.errors import VaultError
from vault.extensions import db
from vault.models import Node
from vault.services import storage_switch
from vault.storage import get_storage, open_store, storage_url
from vault.storage.base import BlobStore

# Uploads keep arriving while we copy: stop after this many passes anyway,
# the run after the restart copies what is left (see docs/architecture.md).
MAX_PASSES = 5
PAGE = 500
# Written and deleted again to learn that the target takes bytes.
PROBE_KEY = "0" * 32 + "/" + "0" * 32


class MigrationError(VaultError):
    code = "storage_migration"


@dataclass(frozen=True)
class Blob:
    key: str
    size: int | None  # None: a thumbnail, whose size no row records
    sha256: str | None  # None: a thumbnail, or a file from before hashing
    label: str


@dataclass
class Pass:
    copied: int = 0
    copied_bytes: int = 0
    present: int = 0
    present_bytes: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    source: str
    target: str
    passes: list[Pass] = field(default_factory=list)
    switched: bool = False
    # The target was already in use: a catch-up run from the previous store.
    already: bool = False

    @property
    def problems(self) -> list[str]:
        last = self.passes[-1] if self.passes else Pass()
        return last.missing + last.corrupt


def migrate(
    to: str,
    *,
    dry_run: bool = False,
    force: bool = False,
    progress: Callable[[Pass], None] | None = None,
) -> Outcome:
    """Copy every blob into the store `to` names and switch over to it.

    Commits only the switch-over, at the end; the read transactions between
    pages are ended so each page sees what changed meanwhile.
    """
    try:
        target_url = storage_url(to, "")
    except ValueError:
        raise MigrationError(
            f"Not a store: {to!r}. Give s3://BUCKET/PREFIX or file:///absolute/path."
        ) from None
    current_url = current_app.config["STORAGE_URL"]
    if target_url == current_url:
        return _catch_up(target_url, dry_run, progress)
    source, target = get_storage(), open_store(target_url, current_app.config)
    outcome = Outcome(current_url, target_url)
    if dry_run:
        check_readable(target, target_url)
    else:
        check_writable(target, target_url)
    _copy_in_passes(outcome, source, target, dry_run, progress)
    if dry_run or (outcome.problems and not force):
        return outcome
    storage_switch.record(target_url, current_url)
    db.session.commit()
    outcome.switched = True
    return outcome


def _catch_up(target_url, dry_run, progress) -> Outcome:
    """Run again after the switch: copy what reached the old store meanwhile."""
    previous = storage_switch.previous_url()
    recorded = storage_switch.recorded_url(
        current_app.config["SQLALCHEMY_DATABASE_URI"]
    )
    if previous is None or recorded != target_url:
        raise MigrationError(f"The vault already keeps its bytes in {target_url}.")
    outcome = Outcome(previous, target_url, already=True)
    source = open_store(previous, current_app.config)
    _copy_in_passes(outcome, source, get_storage(), dry_run, progress, max_passes=1)
    return outcome


def check_writable(store: BlobStore, url: str) -> None:
    """Write and delete a small blob; MigrationError if the store refuses."""
    writer = None
    try:
        writer = store.writer_at(PROBE_KEY)
        writer.write(b"vault")
        writer.commit()
        store.delete(PROBE_KEY)
        store.delete_namespace(PROBE_KEY.partition("/")[0])
    # Each backend raises its own errors (OSError, botocore's), which the
    # services do not import; any of them means the same here.
    except Exception as error:  # noqa: BLE001
        if writer is not None:
            writer.discard()
        raise MigrationError(f"Cannot write to {url}: {error}") from None


def check_readable(store: BlobStore, url: str) -> None:
    """List the store's first entry; MigrationError if it cannot be listed."""
    try:
        next(iter(store.scan()), None)
    except Exception as error:  # noqa: BLE001 - as in check_writable
        raise MigrationError(f"Cannot read {url}: {error}") from None


def _copy_in_passes(outcome, source, target, dry_run, progress, max_passes=None):
    for _ in range(max_passes or MAX_PASSES):
        done = copy_pass(source, target, dry_run=dry_run, progress=progress)
        outcome.passes.append(done)
        if dry_run or done.copied == 0:
            return


def copy_pass(
    source: BlobStore,
    target: BlobStore,
    *,
    dry_run: bool = False,
    progress: Callable[[Pass], None] | None = None,
) -> Pass:
    """Copy what the target lacks; with dry_run only count it as copied."""
    done = Pass()
    for blob in stored_blobs():
        size = blob_size(target, blob.key)
        if size is not None and (blob.size is None or size == blob.size):
            done.present, done.present_bytes = (
                done.present + 1,
                done.present_bytes + size,
            )
        elif dry_run:
            done.copied += 1
            done.copied_bytes += blob.size or 0
        else:
            _copy_one(source, target, blob, done)
        if progress is not None:
            progress(done)
    return done


def _copy_one(source: BlobStore, target: BlobStore, blob: Blob, done: Pass) -> None:
    size = blob_size(source, blob.key)
    if size is None:
        if still_stored(blob.key) and blob.size is not None:
            done.missing.append(f"{blob.label}: {blob.key} is missing")
        # A thumbnail is made again when next shown; a deleted file is gone.
        return
    if blob.size is not None and size != blob.size:
        done.corrupt.append(
            f"{blob.label}: {blob.key} holds {size} bytes, not {blob.size}"
        )
        return
    digest = copy_blob(source, target, blob.key, size, blob.sha256)
    if digest is None:
        done.corrupt.append(f"{blob.label}: {blob.key} does not match its SHA-256")
        return
    done.copied, done.copied_bytes = done.copied + 1, done.copied_bytes + size


def copy_blob(
    source: BlobStore, target: BlobStore, key: str, size: int, sha256: str | None
) -> str | None:
    """Stream one blob into the target; return its SHA-256, None on mismatch.

    The target's bytes appear only on commit, after the hash matched.
    """
    writer = target.writer_at(key)
    try:
        if size:
            for chunk in source.read_range(key, 0, size):
                writer.write(chunk)
        if writer.size != size or (sha256 is not None and writer.sha256 != sha256):
            writer.discard()
            return None
        writer.commit()
    except BaseException:
        writer.discard()
        raise
    return writer.sha256


def file_pages(execute: Callable) -> Iterator[list]:
    """Yield the rows of every file (trashed ones too), a page at a time by id.

    `execute` runs a statement where the caller reads (the session, or a
    connection of its own); between pages the caller may end its transaction.
    """
    last = ""
    while True:
        rows = execute(
            select(
                Node.id,
                Node.name,
                Node.storage_key,
                Node.size,
                Node.sha256,
                Node.thumbnail_key,
            )
            .where(Node.id > last, Node.is_folder.is_(False))
            .order_by(Node.id)
            .limit(PAGE)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def stored_blobs() -> Iterator[Blob]:
    """Yield every key a row names, a page at a time, in no transaction."""
    for rows in file_pages(db.session.execute):
        # End the read transaction: the next page, and the checks of missing
        # blobs, must see what was deleted or added meanwhile.
        db.session.rollback()
        for row in rows:
            label = f"file {row.id} ({row.name})"
            if row.storage_key:
                yield Blob(row.storage_key, row.size, row.sha256, label)
            if row.thumbnail_key:
                yield Blob(row.thumbnail_key, None, None, f"thumbnail of {label}")
    db.session.rollback()


def blob_size(store: BlobStore, key: str) -> int | None:
    """Return a blob's size in `store`, or None if it is not there."""
    try:
        return store.size(key)
    except FileNotFoundError:
        return None


def still_stored(key: str) -> bool:
    """Whether a row still names `key`, as of now.

    Ends the read transaction (a rollback): the migration (and a backup) writes
    nothing through the session meanwhile, and this must see a file deleted
    during the copy.
    """
    found = db.session.scalar(
        select(Node.id).where((Node.storage_key == key) | (Node.thumbnail_key == key))
    )
    db.session.rollback()
    return found is not None
