"""fsck: compare the database with the storage, report, and repair what is safe.

Repairs never delete data. Counters are recomputed from the rows, expired
reservations are released, forgotten thumbnails are made again on demand,
items cut off from the root (a cycle, a lost parent) go into a "Recovered"
folder (fsck_tree.py), and whatever sits on disk without a row is moved to a
lost+found area. Rows are never deleted, except those of expired resumable
uploads (their bytes go to lost+found): a missing or damaged blob is reported
for a person to decide.
"""

import os
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update

from vault.extensions import db
from vault.models import Node, Reservation, ResumableUpload, User, utcnow
from vault.services import fsck_tree, quotas, resumable_expiry
from vault.storage import get_storage
from vault.storage.local import RESUMABLE_PREFIX, DiskEntry
from vault.units import format_size

# Every kind of problem, in the order they are reported.
KINDS = (
    "missing_blob",
    "wrong_size",
    "wrong_hash",
    "missing_thumbnail",
    "orphan_blob",
    "stray_file",
    "orphan_namespace",
    "stale_partial",
    "stale_upload",
    "stale_reservation",
    "usage_drift",
    "reserved_drift",
    "tree_cycle",
    "orphan_node",
)
REPAIRABLE = set(KINDS) - {"missing_blob", "wrong_size", "wrong_hash"}
BATCH_SIZE = 500


@dataclass
class Problem:
    kind: str
    message: str
    # What was done about it, once repaired.
    repair: str | None = None

    @property
    def repaired(self) -> bool:
        return self.repair is not None


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    # lost+found directories that received something during this check.
    lost_found_dirs: set[str] = field(default_factory=set)
    # What the lost+found areas hold after the check, this run's moves included.
    lost_found_files: int = 0
    lost_found_bytes: int = 0

    def add(self, kind: str, message: str) -> Problem:
        problem = Problem(kind, message)
        self.problems.append(problem)
        return problem

    def by_kind(self) -> dict[str, list[Problem]]:
        grouped = {kind: [] for kind in KINDS}
        for problem in self.problems:
            grouped[problem.kind].append(problem)
        return {kind: found for kind, found in grouped.items() if found}

    @property
    def repaired_count(self) -> int:
        return sum(1 for problem in self.problems if problem.repaired)

    @property
    def repairable_count(self) -> int:
        return sum(1 for problem in self.problems if problem.kind in REPAIRABLE)


def check(
    repair: bool = False, verify_hashes: bool = True, now: datetime | None = None
) -> Report:
    """Compare the database with the storage; with `repair`, fix what is safe."""
    now = now or utcnow()
    report = Report()
    # Release expired reservations before comparing counters, so that the
    # reserved_drift repair sees the reservations as they will stay.
    _check_reservations(report, repair, now)
    _check_counters(report, repair)
    fsck_tree.check_tree(report, repair, _size_text)
    _check_files(report, repair, verify_hashes)
    _check_expired_uploads(report, repair, now)
    _check_disk(report, repair, now)
    files, size = get_storage().lost_found_usage()
    report.lost_found_files, report.lost_found_bytes = files, size
    return report


def _in_batches(query, key):
    """Yield the rows of `query` by increasing `key`, its first column.

    Keyset pagination, ending the read transaction after each batch: a large
    vault is never held in memory, nor one transaction open while hashing.
    """
    last = None
    while True:
        page = query.order_by(key).limit(BATCH_SIZE)
        if last is not None:
            page = page.where(key > last)
        rows = db.session.execute(page).all()
        db.session.commit()
        yield from rows
        if len(rows) < BATCH_SIZE:
            return
        last = rows[-1][0]


def _size_text(size: int) -> str:
    exact = f"{size:,} byte" if size == 1 else f"{size:,} bytes"
    return exact if size < 1000 else f"{exact} ({format_size(size)})"


def _time_text(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _check_reservations(report: Report, repair: bool, now: datetime) -> None:
    query = (
        select(Reservation.id, Reservation.bytes, Reservation.expires_at, User.email)
        .join(User, User.id == Reservation.user_id)
        .where(Reservation.expires_at <= now)
    )
    stale = [
        report.add(
            "stale_reservation",
            f"Reservation {row.id} of {row.email} holds {_size_text(row.bytes)} "
            f"and expired at {_time_text(row.expires_at)}.",
        )
        for row in _in_batches(query, Reservation.id)
    ]
    if repair and stale:
        quotas.release_expired(now)
        for problem in stale:
            problem.repair = "released its bytes"


def _check_counters(report: Report, repair: bool) -> None:
    files_total = _files_total().label("files_total")
    reserved_total = _reserved_total().label("reserved_total")
    query = select(
        User.id,
        User.email,
        User.used_bytes,
        User.reserved_bytes,
        files_total,
        reserved_total,
    )
    for row in _in_batches(query, User.id):
        if row.used_bytes != row.files_total:
            problem = report.add(
                "usage_drift",
                f"{row.email} is charged {_size_text(row.used_bytes)} for stored "
                f"files, but their files total {_size_text(row.files_total)}.",
            )
            if repair:
                fixed = _recount(row.id, User.used_bytes, _files_total())
                problem.repair = f"set to {_size_text(fixed)}"
        if row.reserved_bytes != row.reserved_total:
            problem = report.add(
                "reserved_drift",
                f"{row.email} has {_size_text(row.reserved_bytes)} reserved, but "
                f"their reservations hold {_size_text(row.reserved_total)}.",
            )
            if repair:
                fixed = _recount(row.id, User.reserved_bytes, _reserved_total())
                problem.repair = f"set to {_size_text(fixed)}"


def _files_total():
    """Bytes of the user's files, live and trashed, as a correlated subquery."""
    return (
        select(quotas.total_bytes(Node.size))
        .where(Node.owner_id == User.id, Node.is_folder.is_(False))
        .correlate(User)
        .scalar_subquery()
    )


def _reserved_total():
    """Bytes of the user's reservations, as a correlated subquery."""
    return (
        select(quotas.total_bytes(Reservation.bytes))
        .where(Reservation.user_id == User.id)
        .correlate(User)
        .scalar_subquery()
    )


def _recount(user_id: str, column, total) -> int:
    """Set a counter of the user's to `total`; commit; return the new value.

    The first UPDATE only takes the row lock, so an upload charging the user
    right now commits first; the second then reads the rows in a fresh
    snapshot (READ COMMITTED), so that upload's bytes are counted, and one
    that starts later adds its bytes on top of the corrected value.
    """
    mine = User.id == user_id
    db.session.execute(
        update(User)
        .where(mine)
        .values({column: column})
        .execution_options(synchronize_session=False)
    )
    fixed = db.session.execute(
        update(User)
        .where(mine)
        .values({column: total})
        .returning(column)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    db.session.commit()
    return fixed


def _check_files(report: Report, repair: bool, verify_hashes: bool) -> None:
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
    for row in _in_batches(query, Node.id):
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
            f"{_file_label(row)}: its blob {key} is {_size_text(size)}, "
            f"the database says {_size_text(row.size)}.",
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
    unchecked_blobs: list[tuple[DiskEntry, str]] = field(default_factory=list)
    # Moves wait for the end of the walk: a directory is not changed while
    # it is being listed.
    moves: list[tuple[Problem, DiskEntry]] = field(default_factory=list)


def _check_disk(report: Report, repair: bool, now: datetime) -> None:
    # A blob is committed before its row and a partial is written to while
    # its upload lives: both are judged only once older than a reservation.
    walk = _DiskCheck(report, now - quotas.reservation_lifetime())
    for entry in get_storage().scan():
        _check_entry(walk, entry)
    _check_orphan_blobs(walk)
    if repair:
        _move_aside(walk)


def _check_entry(walk: _DiskCheck, entry: DiskEntry) -> None:
    if entry.kind == DiskEntry.NAMESPACE:
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
    if entry.kind == DiskEntry.BLOB:
        if entry.changed_at <= walk.cutoff:
            walk.unchecked_blobs.append((entry, walk.email))
            if len(walk.unchecked_blobs) >= BATCH_SIZE:
                _check_orphan_blobs(walk)
    elif entry.kind == DiskEntry.PARTIAL:
        if entry.modified_at <= walk.cutoff:
            message = (
                f"Unfinished upload {entry.path} {owner}, "
                f"{_size_text(entry.size)}, was last written at "
                f"{_time_text(entry.modified_at)}."
            )
            _plan_move(walk, "stale_partial", message, entry)
    elif entry.kind == DiskEntry.RESUMABLE:
        _check_resumable(walk, entry, owner)
    else:
        what = "Directory" if entry.is_dir else "File"
        size = "" if entry.is_dir else f", {_size_text(entry.size)},"
        message = f"{what} {entry.path} {owner}{size} is not made by the vault."
        _plan_move(walk, "stray_file", message, entry)


def _check_resumable(walk: _DiskCheck, entry: DiskEntry, owner: str) -> None:
    """Report the bytes of a resumable upload that has no row."""
    upload_id = entry.name.removeprefix(RESUMABLE_PREFIX)
    has_row = db.session.scalar(
        select(ResumableUpload.id).where(
            ResumableUpload.id == upload_id,
            ResumableUpload.owner_id == entry.namespace,
        )
    )
    db.session.commit()
    # A live upload is fine and an expired one was handled already; the file
    # of an upload being created comes just before its row.
    if has_row or entry.modified_at > walk.cutoff:
        return
    message = (
        f"Resumable upload {entry.path} {owner}, {_size_text(entry.size)}, "
        f"belongs to no upload; it was last written at "
        f"{_time_text(entry.modified_at)}."
    )
    _plan_move(walk, "stale_upload", message, entry)


def _check_expired_uploads(report: Report, repair: bool, now: datetime) -> None:
    """Report expired resumable uploads; repair: forget them, keep their bytes."""
    query = (
        select(
            ResumableUpload.id,
            ResumableUpload.owner_id,
            ResumableUpload.offset,
            ResumableUpload.length,
            ResumableUpload.expires_at,
            User.email,
        )
        .join(User, User.id == ResumableUpload.owner_id)
        # A complete upload's row is only a record, with no bytes and no quota:
        # `cleanup` removes it in time.
        .where(ResumableUpload.expires_at <= now, ResumableUpload.file_id.is_(None))
    )
    for row in _in_batches(query, ResumableUpload.id):
        problem = report.add(
            "stale_upload",
            f"Resumable upload {row.id} of {row.email}, "
            f"{_size_text(row.offset)} of {_size_text(row.length)} received, "
            f"expired at {_time_text(row.expires_at)}.",
        )
        if repair:
            _forget_expired_upload(report, problem, row, now)


def _forget_expired_upload(report: Report, problem: Problem, row, now) -> None:
    # Row first, bytes second, as for any delete; a request still writing to
    # it (its lease is held) keeps it until the next check.
    if resumable_expiry.forget_expired(row.id, now) is None:
        return
    try:
        target = get_storage().move_to_lost_found(
            row.owner_id, RESUMABLE_PREFIX + row.id
        )
    except FileNotFoundError:
        problem.repair = "forgot it and released its quota; it had no bytes on disk"
        return
    report.lost_found_dirs.add(os.path.dirname(target))
    problem.repair = f"forgot it, released its quota, moved its bytes to {target}"


def _check_orphan_blobs(walk: _DiskCheck) -> None:
    """Report the unchecked blobs that no file or thumbnail refers to."""
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
                f"Blob {entry.key} of {email}, {_size_text(entry.size)}, "
                "belongs to no file."
            )
            _plan_move(walk, "orphan_blob", message, entry)
    walk.unchecked_blobs.clear()


def _plan_move(walk: _DiskCheck, kind: str, message: str, entry: DiskEntry) -> None:
    walk.moves.append((walk.report.add(kind, message), entry))


def _move_aside(walk: _DiskCheck) -> None:
    storage = get_storage()
    for problem, entry in walk.moves:
        try:
            target = storage.move_to_lost_found(entry.namespace, entry.name)
        except FileNotFoundError:
            # Gone since we looked (a purge, an upload finishing): no problem.
            walk.report.problems.remove(problem)
            continue
        walk.report.lost_found_dirs.add(os.path.dirname(target))
        problem.repair = f"moved to {target}"
