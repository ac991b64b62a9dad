"""Resumable uploads: finding one for its owner, and the lease on its row.

A request appending bytes first takes a lease on the upload's row, so two
requests (in any processes) never write at once. The lease is renewed while
bytes arrive, so it only lapses when its request died or stalled.
"""

import math
from datetime import datetime, timedelta

from sqlalchemy import or_, update

from vault.errors import VaultError
from vault.extensions import db
from vault.models import ResumableUpload, User, utcnow
from vault.services.access import get_owned

# The lease of a request writing bytes; it is renewed while bytes arrive, so
# it only lapses when that request died or stalled. After a crash, clients
# wait at most this long (423) before they may go on.
LEASE = timedelta(seconds=30)
# Renewed once less than this is left: each write then ends well within it.
LEASE_RENEWAL = timedelta(seconds=20)


class UploadBusy(VaultError):
    status = 423
    code = "upload_busy"
    message = (
        "Another request is sending bytes to this upload right now. Wait for it "
        "to end, then ask for the offset (HEAD) and go on from there."
    )

    @classmethod
    def until(cls, locked_until: datetime | None, now: datetime) -> "UploadBusy":
        """The error, telling when the lease runs out if its holder is gone.

        A request that died (a crashed worker) holds its lease to the end:
        a client told when can try again then, rather than backing off past it.
        """
        error = cls()
        if locked_until is not None:
            error.retry_after = max(1, math.ceil((locked_until - now).total_seconds()))
        return error


class LeaseLost(UploadBusy):
    message = (
        "This request stalled and another one took over the upload; "
        "ask for the offset (HEAD) and go on from there."
    )


def get_upload(user: User, upload_id: str, now: datetime | None = None):
    """Return the user's live upload; expired or anyone else's is NotFound."""
    now = now or utcnow()
    return get_owned(
        ResumableUpload, upload_id, user, "upload", ResumableUpload.expires_at > now
    )


class Lease:
    """The right to write an upload's bytes, held in its row until a time.

    The time itself identifies the holder: every renewal is conditional on the
    row still holding ours, so a request whose lease lapsed and was taken over
    finds out before its next write, never after.

    Taking, keeping and releasing a lease each commit on their own: the lease
    must be seen by every other process at once, and no transaction stays open
    while bytes arrive. `extend` and `record` write in the caller's
    transaction; when the lease turns out lost they roll it back, since what
    it holds was written for a holder we no longer are.
    """

    def __init__(self, upload_id: str, until: datetime):
        self.upload_id, self.until = upload_id, until

    @classmethod
    def take(cls, user: User, upload_id: str, now: datetime) -> "Lease":
        clock = utcnow()
        until = clock + LEASE
        taken = db.session.execute(
            update(ResumableUpload)
            .where(
                ResumableUpload.id == upload_id,
                ResumableUpload.owner_id == user.id,
                ResumableUpload.expires_at > now,
                lease_free(clock),
            )
            .values(locked_until=until)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        if not taken:
            # Not this user's, or gone: NotFound; else someone holds it.
            upload = get_upload(user, upload_id, now)
            raise UploadBusy.until(upload.locked_until, clock)
        return cls(upload_id, until)

    def keep(self) -> None:
        """Renew the lease if it is running short; raise LeaseLost if taken."""
        clock = utcnow()
        if self.until - clock > LEASE_RENEWAL:
            return
        self.extend()
        db.session.commit()

    def extend(self, **values) -> None:
        """Renew the lease and set `values` on the row, in the open transaction;
        the caller commits at once (a rollback would leave `until` wrong)."""
        until = utcnow() + LEASE
        self._update(locked_until=until, **values)
        self.until = until

    def record(self, **values) -> None:
        """Set `values` on the row while the lease is ours, without renewing it,
        in a transaction that may yet roll back and be tried again."""
        self._update(**values)

    def _update(self, **values) -> None:
        moved = db.session.execute(
            update(ResumableUpload)
            .where(
                ResumableUpload.id == self.upload_id,
                ResumableUpload.locked_until == self.until,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not moved:
            db.session.rollback()
            raise LeaseLost()

    def release(self) -> None:
        """Let the next request in; harmless if the row is gone or was taken."""
        db.session.rollback()
        db.session.execute(
            update(ResumableUpload)
            .where(
                ResumableUpload.id == self.upload_id,
                ResumableUpload.locked_until == self.until,
            )
            .values(locked_until=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def lease_free(now: datetime):
    return or_(
        ResumableUpload.locked_until.is_(None), ResumableUpload.locked_until <= now
    )
