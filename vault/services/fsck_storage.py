"""fsck of the stored bytes: each file's blob and thumbnail, and the disk's leftovers.

A missing or damaged blob is only reported. A thumbnail that is gone is
forgotten (it is made again on demand), and whatever sits on disk without a
row (a blob, an unfinished upload, a directory of no user, a file we never
make) is moved to a lost+found area.
"""

import os
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update

from vault.extensions import db
from vault.models import Node, ResumableUpload, User
from vault.services import fsck_report, quotas
from vault.services.fsck_report import Problem, Report, in_batches, size_text, time_text
from vault.storage import get_storage
from vault.storage.base import StoredEntry


def check_files(report: Report, repair: bool, verify_hashes: bool) -> None:
    query = (
        select(
            Node.id,
            Node.name,
            Node.size,
            Node.sha256,
            Node.storage_key,
            Node.thumbnail_key,
            Node.trashed_at,
            User.email,
        )
        .join(User, User.id == Node.owner_id)
        .where(Node.is_folder.is_(False))
    )
    for row in in_batches(query, Node.id):
        _check_blob(report, row, verify_hashes)
        if row.thumbnail_key:
            _check_thumbnail(report, row, repair)


def _file_label(row) -> str:
    where = ", in the trash" if row.trashed_at else ""
    return f'File "{row.name}" ({row.id}{where}) of {row.email}'


def _blob_size(key: str | None) -> int | None:
    """Return the blob's size, or None if it is missing (or not a key we make)."""
    try:
        return get_storage().size(key) if key else None
    except (FileNotFoundError, ValueError):
        return None


def _check_blob(report: Report, row, verify_hashes: bool) -> None:
    """Report a missing, resized or altered blob; commits (fsck commits as it goes)."""
    key = row.storage_key
    size = _blob_size(key)
    if size is None:
        # Deletes go row first, blob second: a row purged while we looked is fine.
        if db.session.scalar(select(Node.id).where(Node.id == row.id)):
            report.add(
                "missing_blob", f"{_file_label(row)}: its blob {key} is missing."
            )
        db.session.commit()
        return
    if size != row.size:
        report.add(
            "wrong_size",
            f"{_file_label(row)}: its blob {key} is {size_text(size)}, "
            f"the database says {size_text(row.size)}.",
        )
        return
    if not verify_hashes or not row.sha256:
        return
    try:
        digest = get_storage().sha256(key)
    except FileNotFoundError:
        return
    if digest != row.sha256:
        report.add(
            "wrong_hash",
            f"{_file_label(row)}: the SHA-256 of its blob {key} is {digest}, "
            f"the database says {row.sha256}.",
        )


def _check_thumbnail(report: Report, row, repair: bool) -> None:
    """Report a lost thumbnail; with `repair`, forget it and commit at once."""
    if _blob_size(row.thumbnail_key) is not None:
        return
    problem = report.add(
        "missing_thumbnail",
        f"{_file_label(row)}: its thumbnail {row.thumbnail_key} is missing.",
    )
    if not repair:
        return
    # Only if nobody made a new thumbnail meanwhile.
    db.session.execute(
        update(Node)
        .where(Node.id == row.id, Node.thumbnail_key == row.thumbnail_key)
        .values(thumbnail_key=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    problem.repair = "forgot it; it is made again when next shown"


@dataclass
class _DiskCheck:
    """What the walk over the storage remembers between entries."""

    report: Report
    cutoff: datetime
    email: str | None = None
    orphan_namespaces: set[str] = field(default_factory=set)
    unchecked_blobs: list[tuple[StoredEntry, str]] = field(default_factory=list)
    # Moves wait for the end of the walk: a directory is not changed while
    # it is being listed.
    moves: list[tuple[Problem, StoredEntry]] = field(default_factory=list)


def check_disk(report: Report, repair: bool, now: datetime) -> None:
    # A blob is committed before its row and a partial is written to while
    # its upload lives: both are judged only once older than a reservation.
    walk = _DiskCheck(report, now - quotas.reservation_lifetime())
    for entry in get_storage().scan():
        _check_entry(walk, entry)
    _check_orphan_blobs(walk)
    if repair:
        _move_aside(walk)


def _check_entry(walk: _DiskCheck, entry: StoredEntry) -> None:
    """Judge one stored entry; commits its reads, so no transaction stays open."""
    if entry.kind == StoredEntry.NAMESPACE:
        walk.email = db.session.scalar(
            select(User.email).where(User.id == entry.namespace)
        )
        db.session.commit()
        if walk.email is None:
            walk.orphan_namespaces.add(entry.namespace)
            _plan_move(
                walk,
                "orphan_namespace",
                f"Directory {entry.namespace} belongs to no user.",
                entry,
            )
        return
    if entry.namespace in walk.orphan_namespaces:
        return
    owner = f"of {walk.email}" if entry.namespace else "under the storage root"
    if entry.kind == StoredEntry.BLOB:
        if entry.changed_at <= walk.cutoff:
            walk.unchecked_blobs.append((entry, walk.email))
            if len(walk.unchecked_blobs) >= fsck_report.BATCH_SIZE:
                _check_orphan_blobs(walk)
    elif entry.kind == StoredEntry.PARTIAL:
        if entry.modified_at <= walk.cutoff:
            message = (
                f"Unfinished upload {entry.path} {owner}, "
                f"{size_text(entry.size)}, was last written at "
                f"{time_text(entry.modified_at)}."
            )
            _plan_move(walk, "stale_partial", message, entry)
    elif entry.kind == StoredEntry.RESUMABLE:
        _check_resumable(walk, entry, owner)
    else:
        what = "Directory" if entry.is_dir else "File"
        size = "" if entry.is_dir else f", {size_text(entry.size)},"
        message = f"{what} {entry.path} {owner}{size} is not made by the vault."
        _plan_move(walk, "stray_file", message, entry)


def _check_resumable(walk: _DiskCheck, entry: StoredEntry, owner: str) -> None:
    """Report the bytes of a resumable upload that has no row; commits its read."""
    has_row = db.session.scalar(
        select(ResumableUpload.id).where(
            ResumableUpload.id == entry.upload_id,
            ResumableUpload.owner_id == entry.namespace,
        )
    )
    db.session.commit()
    # A live upload is fine and an expired one was handled already; the file
    # of an upload being created comes just before its row.
    if has_row or entry.modified_at > walk.cutoff:
        return
    message = (
        f"Resumable upload {entry.path} {owner}, {size_text(entry.size)}, "
        f"belongs to no upload; it was last written at "
        f"{time_text(entry.modified_at)}."
    )
    _plan_move(walk, "stale_upload", message, entry)


def _check_orphan_blobs(walk: _DiskCheck) -> None:
    """Report the unchecked blobs that no file or thumbnail refers to; commits
    its reads, so no transaction stays open while the disk is walked."""
    keys = [entry.key for entry, _ in walk.unchecked_blobs]
    if not keys:
        return
    referenced = set(
        db.session.scalars(select(Node.storage_key).where(Node.storage_key.in_(keys)))
    ) | set(
        db.session.scalars(
            select(Node.thumbnail_key).where(Node.thumbnail_key.in_(keys))
        )
    )
    db.session.commit()
    for entry, email in walk.unchecked_blobs:
        if entry.key not in referenced:
            message = (
                f"Blob {entry.key} of {email}, {size_text(entry.size)}, "
                "belongs to no file."
            )
            _plan_move(walk, "orphan_blob", message, entry)
    walk.unchecked_blobs.clear()


def _plan_move(walk: _DiskCheck, kind: str, message: str, entry: StoredEntry) -> None:
    walk.moves.append((walk.report.add(kind, message), entry))


def _move_aside(walk: _DiskCheck) -> None:
    storage = get_storage()
    for problem, entry in walk.moves:
        try:
            if entry.kind == StoredEntry.PARTIAL:
                target = storage.drop_partial(entry.namespace, entry.name)
            else:
                target = storage.move_to_lost_found(entry.namespace, entry.name)
        except FileNotFoundError:
            # Gone since we looked (a purge, an upload finishing): no problem.
            walk.report.problems.remove(problem)
            continue
        if target is None:
            problem.repair = "aborted: the parts of an unfinished upload are no file"
            continue
        walk.report.lost_found_dirs.add(os.path.dirname(target))
        problem.repair = f"moved to {target}"
