"""`vault restore SRC`: fill an empty instance from a backup `vault backup` made.

The blobs go first, each through the configured store's writer (so a backup
of a local vault restores into S3 as well), checked against the SHA-256 and
size the manifest lists; the database comes last. So an interrupted restore
leaves a database that is still empty and a store holding only blobs of this
backup, and running it again goes on where it stopped: the blobs already
there at the right size are not copied again.

Refused: a database holding accounts or files, a store holding blobs that
are not this backup's, and a backup of the other kind of database (SQLite
into PostgreSQL or back: out of scope, the schemas move through each
database's own tools).
"""

import os
from dataclasses import dataclass, field

from sqlalchemy import select, update

from vault.extensions import db
from vault.models import Node
from vault.services import backup_database, storage_switch, trash
from vault.services.backup import blob_store, read_manifest, sha256_of_file
from vault.services.backup_database import BackupError
from vault.services.storage_migration import blob_size, copy_blob
from vault.storage import get_storage
from vault.storage.base import BlobStore, StoredEntry

BATCH = 500


@dataclass
class RestoreOutcome:
    created_at: str
    revision: str | None
    copied: int = 0
    copied_bytes: int = 0
    present: int = 0
    # Rows of files deleted for good while the backup ran (see backup.py).
    dropped: int = 0
    problems: list[str] = field(default_factory=list)


def restore(source: str) -> RestoreOutcome:
    """Restore the backup in `source` into this instance's empty database and store.

    BackupError, with nothing put in the database, if the backup or the
    instance will not do.
    """
    source = os.path.abspath(source)
    manifest = read_manifest(source)
    if manifest is None:
        raise BackupError(
            f"{source} holds no manifest.json: not a backup, or one that did "
            "not finish."
        )
    database = manifest["database"]
    _check_instance(database["kind"])
    path = os.path.join(source, database["file"])
    if not os.path.isfile(path) or sha256_of_file(path) != database["sha256"]:
        raise BackupError(f"The database copy {path} is missing or damaged.")
    outcome = RestoreOutcome(manifest["created_at"], database["revision"])
    blobs = manifest["blobs"]
    store = get_storage()
    _check_store(store, blobs)
    _copy_blobs(blob_store(source), store, blobs, outcome)
    if outcome.problems:
        raise BackupError(
            f"{len(outcome.problems)} blob(s) of the backup are missing or damaged "
            f"({outcome.problems[0]}); the database was not restored."
        )
    backup_database.restore(path)
    outcome.dropped = _tidy(blobs, manifest["deleted"])
    db.session.commit()
    return outcome


def _check_instance(kind: str) -> None:
    here = backup_database.database_kind()
    if kind != here:
        raise BackupError(
            f"This backup holds a {kind} database, but this instance uses {here}. "
            f"Restore it into an instance on {kind}: moving between the two is "
            "not supported."
        )
    if not backup_database.is_empty():
        raise BackupError(
            "This instance's database already holds accounts or files: a restore "
            "only fills an empty one. Point VAULT_DATABASE_URL (or "
            "VAULT_INSTANCE_DIR) at a new, empty database."
        )


def _check_store(store: BlobStore, blobs: dict[str, dict]) -> None:
    """Refuse a store holding anything but blobs of this backup (a rerun's)."""
    for entry in store.scan():
        if entry.kind == StoredEntry.RESUMABLE or (
            entry.kind == StoredEntry.BLOB
            and blobs.get(entry.key, {}).get("size") != entry.size
        ):
            raise BackupError(
                f"The store already holds {entry.path}, which is not from this "
                "backup: a restore only fills an empty store. Point "
                "VAULT_STORAGE_URL (or VAULT_STORAGE_DIR) at an empty one."
            )


def _copy_blobs(backup: BlobStore, store: BlobStore, blobs, outcome) -> None:
    for key, entry in blobs.items():
        size = entry["size"]
        if blob_size(store, key) == size:
            outcome.present += 1
            continue
        try:
            digest = copy_blob(backup, store, key, size, entry["sha256"])
        except FileNotFoundError:
            outcome.problems.append(f"{key} is missing from the backup")
            continue
        if digest is None:
            outcome.problems.append(f"{key} does not match its SHA-256")
            continue
        outcome.copied += 1
        outcome.copied_bytes += size


def _tidy(blobs: dict[str, dict], deleted: list[str]) -> int:
    """Make the restored rows agree with the restored blobs; return rows dropped.

    Drops the files deleted for good while the backup ran, forgets thumbnails
    the backup has not (they are made again when next shown), and forgets a
    switch-over `storage migrate` recorded: this instance's store is the
    one it is configured with.
    """
    dropped = 0
    for start in range(0, len(deleted), BATCH):
        dropped += trash.forget_files(deleted[start : start + BATCH])
    lost = [
        row.id
        for row in db.session.execute(
            select(Node.id, Node.thumbnail_key).where(Node.thumbnail_key.is_not(None))
        )
        if row.thumbnail_key not in blobs
    ]
    for start in range(0, len(lost), BATCH):
        db.session.execute(
            update(Node)
            .where(Node.id.in_(lost[start : start + BATCH]))
            .values(thumbnail_key=None)
            .execution_options(synchronize_session=False)
        )
    storage_switch.forget()
    return dropped
