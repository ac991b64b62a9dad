"""fsck: compare the database with the storage, report, and repair what is safe.

Repairs never delete data. Counters are recomputed from the rows, expired
reservations are released, forgotten thumbnails are made again on demand,
items cut off from the root (a cycle, a lost parent) go into a "Recovered"
folder (fsck_tree.py), and whatever sits on disk without a row is moved to a
lost+found area. Rows are never deleted, except those of expired resumable
uploads (their bytes go to lost+found): a missing or damaged blob is reported
for a person to decide.

A sweep, not one use case: it commits as it goes (after each batch it reads,
each owner it repairs), so a long run holds no lock for long and what it
repaired stays repaired if it stops.

This module runs the checks and holds those of the database's own bookkeeping
(reservations, counters, expired uploads); the stored bytes are checked in
fsck_storage.py, the folder tree in fsck_tree.py, and fsck_report.py holds the
report they all write into.
"""

import logging
import os
from datetime import datetime

from sqlalchemy import select, update

from vault.extensions import db
from vault.models import Node, Reservation, ResumableUpload, User, utcnow
from vault.services import fsck_storage, fsck_tree, quotas, resumable_expiry
from vault.services.fsck_report import Problem, Report, in_batches, size_text, time_text
from vault.storage import get_storage

log = logging.getLogger(__name__)


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
    fsck_tree.check_tree(report, repair, size_text)
    fsck_storage.check_files(report, repair, verify_hashes)
    _check_expired_uploads(report, repair, now)
    fsck_storage.check_disk(report, repair, now)
    files, size = get_storage().lost_found_usage()
    report.lost_found_files, report.lost_found_bytes = files, size
    _log_problems(report)
    return report


def _log_problems(report: Report) -> None:
    # For the operator's log too, not only the console of whoever ran fsck
    # (cron mails nobody reads): how many of each kind, not each message.
    if not report.problems:
        return
    counts = ", ".join(
        f"{kind}: {len(problems)}"
        for kind, problems in report.by_kind().items()
        if problems
    )
    log.warning(
        "fsck found %d problem(s) (%s), %d repaired",
        len(report.problems),
        counts,
        report.repaired_count,
    )


def _check_reservations(report: Report, repair: bool, now: datetime) -> None:
    query = (
        select(Reservation.id, Reservation.bytes, Reservation.expires_at, User.email)
        .join(User, User.id == Reservation.user_id)
        .where(Reservation.expires_at <= now)
    )
    stale = [
        report.add(
            "stale_reservation",
            f"Reservation {row.id} of {row.email} holds {size_text(row.bytes)} "
            f"and expired at {time_text(row.expires_at)}.",
        )
        for row in in_batches(query, Reservation.id)
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
    for row in in_batches(query, User.id):
        if row.used_bytes != row.files_total:
            problem = report.add(
                "usage_drift",
                f"{row.email} is charged {size_text(row.used_bytes)} for stored "
                f"files, but their files total {size_text(row.files_total)}.",
            )
            if repair:
                fixed = _recount(row.id, User.used_bytes, _files_total())
                problem.repair = f"set to {size_text(fixed)}"
        if row.reserved_bytes != row.reserved_total:
            problem = report.add(
                "reserved_drift",
                f"{row.email} has {size_text(row.reserved_bytes)} reserved, but "
                f"their reservations hold {size_text(row.reserved_total)}.",
            )
            if repair:
                fixed = _recount(row.id, User.reserved_bytes, _reserved_total())
                problem.repair = f"set to {size_text(fixed)}"


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
    for row in in_batches(query, ResumableUpload.id):
        problem = report.add(
            "stale_upload",
            f"Resumable upload {row.id} of {row.email}, "
            f"{size_text(row.offset)} of {size_text(row.length)} received, "
            f"expired at {time_text(row.expires_at)}.",
        )
        if repair:
            _forget_expired_upload(report, problem, row, now)


def _forget_expired_upload(report: Report, problem: Problem, row, now) -> None:
    # Row first, bytes second, as for any delete; a request still writing to
    # it (its lease is held) keeps it until the next check.
    if resumable_expiry.forget_expired(row.id, now) is None:
        return
    try:
        target = get_storage().move_resumable_to_lost_found(row.owner_id, row.id)
    except FileNotFoundError:
        problem.repair = "forgot it and released its quota; it had no bytes on disk"
        return
    report.lost_found_dirs.add(os.path.dirname(target))
    problem.repair = f"forgot it, released its quota, moved its bytes to {target}"
