"""`vault backup DEST`: a consistent copy of the database and of every blob.

The database is copied first (backup_database.snapshot), then every blob the
*copy* names is streamed from the store into DEST/blobs/<key>, hashed on the
way and put in place only if its size and SHA-256 match the row
(storage_migration.copy_blob). Blobs never change once written, so the copy of
a file is its bytes at the snapshot whenever it is read. Last comes
DEST/manifest.json, written to a temporary name and renamed: a manifest only
ever names a database copy and blobs that are whole.

DEST grows: a second run into it reads the previous manifest and copies only
blobs that are not there yet (a blob there that no manifest vouches for is
hashed again, and copied again if it is wrong). Blobs of files deleted since
stay in DEST/blobs but are no longer listed, so a restore leaves them out.

A blob deleted after the snapshot (the trash purged, an account deleted) is
gone before it can be copied: the manifest lists it under "deleted", and a
restore drops those rows, as the vault itself did a moment after the snapshot.
"""

import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, urlsplit

from flask import current_app

from vault.models import utcnow
from vault.services import backup_database, exclusive, storage_migration
from vault.services.backup_database import BackupError, FileRow
from vault.storage import get_storage, open_store
from vault.storage.base import KEY_PART, BlobStore
from vault.storage.hashing import file_sha256

FORMAT = 1
MANIFEST = "manifest.json"
LOCK = ".lock"
_KEY = re.compile(f"{KEY_PART.pattern}/{KEY_PART.pattern}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DATABASE_FILE = re.compile(r"db/vault-[0-9T]{15}-[0-9a-f]{8}\.(db|pgdump)")
BLOBS = "blobs"
DATABASE = "db"


@dataclass
class BackupOutcome:
    database_file: str = ""
    copied: int = 0
    copied_bytes: int = 0
    present: int = 0
    present_bytes: int = 0
    deleted: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def backup(
    destination: str,
    now: datetime | None = None,
    progress: Callable[[BackupOutcome], None] | None = None,
) -> BackupOutcome:
    """Back up the database, then the blobs it names, into `destination`.

    BackupError if the destination or the database cannot be used; a blob
    that is missing or damaged in the store is listed in `problems`.
    """
    destination = os.path.abspath(destination)
    _prepare(destination)
    with exclusive.only_one_in(os.path.join(destination, LOCK)) as held:
        if not held:
            raise BackupError(f"Another backup into {destination} is running.")
        return _back_up(destination, now or utcnow(), progress)


def _back_up(destination, now, progress) -> BackupOutcome:
    previous = read_manifest(destination)
    copier = _Copier(
        get_storage(), blob_store(destination), previous["blobs"] if previous else {}
    )
    outcome = copier.outcome
    kind = backup_database.database_kind()
    stamp = now.strftime("%Y%m%dT%H%M%S") + f"-{secrets.token_hex(4)}"
    suffix = "db" if kind == backup_database.SQLITE else "pgdump"
    outcome.database_file = f"{DATABASE}/vault-{stamp}.{suffix}"
    path = os.path.join(destination, outcome.database_file)
    with backup_database.snapshot(path) as connection:
        revision = backup_database.revision(connection)
        for row in backup_database.file_rows(connection):
            copier.back_up(row)
            if progress is not None:
                progress(outcome)
    manifest = {
        "format": FORMAT,
        "created_at": now.isoformat(timespec="seconds") + "Z",
        "database": {
            "kind": kind,
            "file": outcome.database_file,
            "size": os.path.getsize(path),
            "sha256": sha256_of_file(path),
            "revision": revision,
        },
        "storage": {"kind": urlsplit(current_app.config["STORAGE_URL"]).scheme},
        "blobs": copier.listed,
        "deleted": outcome.deleted,
    }
    _write_manifest(destination, manifest)
    _remove_older_copies(destination, outcome.database_file)
    return outcome


def blob_store(directory: str) -> BlobStore:
    """The blobs of the backup in `directory`, seen as a store of their own."""
    root = os.path.join(directory, BLOBS)
    return open_store("file://" + quote(root), current_app.config)


def sha256_of_file(path: str) -> str:
    with open(path, "rb") as file:
        return file_sha256(file)


def read_manifest(directory: str) -> dict | None:
    """Return the manifest of the backup in `directory`; None if there is none.

    BackupError if it is there but not one this version wrote.
    """
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, encoding="utf-8") as file:
            manifest = json.load(file)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise BackupError(f"Cannot read {path}: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a manifest this version of vault wrote.")
    if not _well_formed(manifest):
        raise BackupError(
            f"{path} is damaged: it does not list a database copy and blobs "
            "as vault writes them."
        )
    return manifest


def _well_formed(manifest: dict) -> bool:
    """Whether every name and number a restore would use is one we write."""
    try:
        database = manifest["database"]
        return bool(
            database["kind"] in (backup_database.SQLITE, backup_database.POSTGRESQL)
            and _DATABASE_FILE.fullmatch(database["file"])
            and _SHA256.fullmatch(database["sha256"])
            and isinstance(manifest["created_at"], str)
            and all(
                _KEY.fullmatch(key)
                and type(entry["size"]) is int
                and entry["size"] >= 0
                and _SHA256.fullmatch(entry["sha256"])
                for key, entry in manifest["blobs"].items()
            )
            and all(_KEY.fullmatch(key) for key in manifest["deleted"])
        )
    # A hand-edited or truncated file may hold anything where we expect these.
    except (KeyError, TypeError, AttributeError):
        return False


def _prepare(destination: str) -> None:
    """Make DEST's folders; BackupError if they cannot be made."""
    if os.path.exists(destination) and not os.path.isdir(destination):
        raise BackupError(f"{destination} is not a folder.")
    try:
        # Each folder made private: it holds password hashes and everyone's files.
        os.makedirs(destination, mode=0o700, exist_ok=True)
        os.makedirs(os.path.join(destination, DATABASE), mode=0o700, exist_ok=True)
        os.makedirs(os.path.join(destination, BLOBS), mode=0o700, exist_ok=True)
    except OSError as error:
        raise BackupError(f"Cannot write to {destination}: {error}") from None


class _Copier:
    """Copies the blobs of snapshot rows into the backup, skipping what is there."""

    def __init__(self, source: BlobStore, target: BlobStore, previous: dict):
        self.source, self.target, self.previous = source, target, previous
        self.listed: dict[str, dict] = {}
        self.outcome = BackupOutcome()

    def back_up(self, row: FileRow) -> None:
        label = f"file {row.id} ({row.name})"
        if row.storage_key:
            self._blob(row.storage_key, row.size, row.sha256, label)
        if row.thumbnail_key:
            self._blob(row.thumbnail_key, None, None, None)

    def _blob(self, key, size, sha256, label) -> None:
        """Keep or copy one blob; `label` None: a thumbnail, made again if lost."""
        digest = self._already_there(key, size, sha256)
        if digest is None:
            digest = self._copy(key, size, sha256, label)
        if digest is not None:
            self.listed[key] = {"size": self.target.size(key), "sha256": digest}

    def _already_there(self, key, size, sha256) -> str | None:
        """Return the SHA-256 of the backup's copy if it is right, else None."""
        have = storage_migration.blob_size(self.target, key)
        if have is None or size not in (None, have):
            return None
        known = self.previous.get(key)
        if known and known.get("size") == have and sha256 in (None, known["sha256"]):
            # Put there by a copy whose hash matched (renamed into place
            # only then), and keys are never reused for other bytes.
            digest = known["sha256"]
        else:
            digest = self.target.sha256(key)
            if sha256 not in (None, digest):
                return None
        self.outcome.present += 1
        self.outcome.present_bytes += have
        return digest

    def _copy(self, key, size, sha256, label) -> str | None:
        have = storage_migration.blob_size(self.source, key)
        if have is None:
            if label is None:
                pass  # a thumbnail: a restore forgets it, and it is made again
            elif not storage_migration.still_stored(key):
                self.outcome.deleted.append(key)
            else:
                self.outcome.problems.append(f"{label}: {key} is missing")
            return None
        if size is not None and have != size:
            self.outcome.problems.append(
                f"{label}: {key} holds {have} bytes, not {size}"
            )
            return None
        digest = storage_migration.copy_blob(
            self.source, self.target, key, have, sha256
        )
        if digest is None:
            self.outcome.problems.append(f"{label}: {key} does not match its SHA-256")
            return None
        self.outcome.copied += 1
        self.outcome.copied_bytes += have
        return digest


def _write_manifest(destination: str, manifest: dict) -> None:
    """Write the manifest under a temporary name, fsync it, and rename it."""
    path = os.path.join(destination, MANIFEST)
    temp = f"{path}.{secrets.token_hex(8)}.partial"
    try:
        with open(temp, "w", encoding="utf-8") as file:
            json.dump(manifest, file, indent=1, sort_keys=True)
            file.flush()
            os.fsync(file.fileno())
        # The database copy's rename first, then the manifest's: after a
        # crash, a manifest on disk names a copy that is on disk too.
        _fsync_directory(os.path.join(destination, DATABASE))
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    _fsync_directory(destination)


def _fsync_directory(path: str) -> None:
    directory = os.open(path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _remove_older_copies(destination: str, current: str) -> None:
    """Delete database copies the manifest no longer names (earlier runs')."""
    folder = os.path.join(destination, DATABASE)
    for name in os.listdir(folder):
        if f"{DATABASE}/{name}" != current and name.startswith("vault-"):
            os.unlink(os.path.join(folder, name))
