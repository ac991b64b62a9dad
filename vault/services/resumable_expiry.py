"""Resumable uploads: how long one lives, and how it is forgotten.

An upload and the quota it holds last `UPLOAD_EXPIRY_HOURS` after its last
bytes. Forgetting one deletes its row and releases that quota first; its bytes
go second, so a crash in between leaves bytes that fsck finds, never a row
without them.
"""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from vault.extensions import db
from vault.models import ResumableUpload, utcnow
from vault.services import quotas, upload_hashes
from vault.services.resumable_lease import lease_free
from vault.storage import get_storage


def upload_lifetime() -> timedelta:
    """How long an upload (and its reservation) lives after its last bytes."""
    return timedelta(hours=float(current_app.config["UPLOAD_EXPIRY_HOURS"]))


def forget(upload_id: str, *conditions):
    """Delete an upload's row meeting `conditions` and release its quota; commit.

    Return the row's owner_id, offset and file_id, or None if no such row. The
    caller deletes the bytes: row first, bytes second, so a crash leaves bytes
    that fsck finds, never a row without them.
    """
    row = db.session.execute(
        delete(ResumableUpload)
        .where(ResumableUpload.id == upload_id, *conditions)
        .returning(
            ResumableUpload.owner_id,
            ResumableUpload.reservation_id,
            ResumableUpload.offset,
            ResumableUpload.file_id,
        )
        .execution_options(synchronize_session=False)
    ).first()
    # Harmless when the reservation was already charged or released.
    quotas.release(row.reservation_id if row else None)
    upload_hashes.forget(upload_id)
    return row


def forget_expired(upload_id: str, now: datetime):
    """Delete an expired upload's row and release its quota, unless it is in use.

    Return the row (see `forget`), or None. The caller removes the bytes.
    """
    return forget(upload_id, ResumableUpload.expires_at <= now, lease_free(utcnow()))


def remove_expired(
    now: datetime | None = None, user_id: str | None = None
) -> tuple[int, int]:
    """Remove expired uploads: rows, quota and bytes.

    Return how many unfinished ones, and the bytes they had received; the rows
    of complete ones (no bytes, no quota) go too, uncounted. A sweep: each
    upload is forgotten in a transaction of its own, before its bytes go, so
    call it with nothing pending.
    """
    now = now or utcnow()
    query = select(ResumableUpload.id).where(ResumableUpload.expires_at <= now)
    if user_id is not None:
        query = query.where(ResumableUpload.owner_id == user_id)
    expired = list(db.session.scalars(query))
    db.session.commit()
    count = received = 0
    for upload_id in expired:
        row = forget_expired(upload_id, now)
        if row is not None and row.file_id is None:
            get_storage().delete_resumable(row.owner_id, upload_id)
            count, received = count + 1, received + row.offset
    return count, received
