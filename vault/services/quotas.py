"""Quotas: holding space for bytes as they arrive, and charging stored files.

Every decision is one conditional UPDATE of the user's row,
`used + reserved + n <= quota`: the database serializes writers of one row, so
uploads in any number of processes cannot together pass the quota.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import BigInteger, delete, func, or_, select, update

from vault.errors import QuotaExceeded
from vault.extensions import db
from vault.models import Reservation, User, utcnow
from vault.units import format_size


def total_bytes(column):
    """Return SUM(column) as a BIGINT, 0 when there are no rows.

    PostgreSQL sums a BIGINT into a NUMERIC, which Python gets as a Decimal.
    """
    return func.coalesce(func.sum(column), 0).cast(BigInteger)


# From this share of the quota on, pages show usage as a warning.
WARN_PERCENT = 90


@dataclass(frozen=True)
class Usage:
    """What counts against a user's quota, as every page shows it."""

    used: int  # stored files, the trash, and uploads still arriving
    quota: int | None
    free: int | None
    # Of the quota, rounded down and at most 100; None when unlimited.
    percent: int | None

    @property
    def warn(self) -> bool:
        return self.percent is not None and self.percent >= WARN_PERCENT


def usage_of(user: User) -> Usage:
    used, quota = user.charged_bytes, user.quota_bytes
    if quota is None:
        return Usage(used, None, None, None)
    # A zero quota is full from the start.
    percent = min(100, used * 100 // quota) if quota else 100
    return Usage(used, quota, user.free_bytes, percent)


def reservation_lifetime() -> timedelta:
    """How long a reservation lives without being renewed by arriving bytes."""
    return timedelta(seconds=current_app.config["RESERVATION_SECONDS"])


def quota_message(
    user: User, needed: int, held: int = 0, size_known: bool = True
) -> str:
    """Say what an upload needs against what is free (counting what it holds)."""
    free, quota = format_size((user.free_bytes or 0) + held), user.quota_bytes
    if not size_known:
        return (
            f"This upload is larger than the {free} you have free "
            f"of {format_size(quota)}."
        )
    return (
        f"This upload needs {format_size(needed)} but you have "
        f"{free} free of {format_size(quota)}."
    )


def refuse(
    user_id: str, needed: int, held: int = 0, size_known: bool = True
) -> QuotaExceeded:
    """Return the error for an upload of `needed` bytes, with fresh figures.

    `held` is what the upload itself has reserved so far: free space to it.
    """
    user = db.session.get(User, user_id, populate_existing=True)
    return QuotaExceeded(quota_message(user, needed, held, size_known))


def check_declared(user: User, declared: int | None, allowance: int = 0) -> None:
    """Refuse up front an upload whose announced size cannot fit.

    `allowance` is how much of the announced size may not be file bytes
    (multipart framing and form fields). Raises QuotaExceeded.
    """
    if declared is None or user.quota_bytes is None:
        return
    if declared - allowance <= user.free_bytes:
        return
    # Before refusing, give back what the user's dead uploads still hold.
    if user.reserved_bytes and release_expired(user_id=user.id):
        db.session.refresh(user)
        if declared - allowance <= user.free_bytes:
            return
    raise QuotaExceeded(quota_message(user, declared))


def _hold(user_id: str, amount: int):
    return db.session.execute(
        update(User)
        .where(
            User.id == user_id,
            or_(
                User.quota_bytes.is_(None),
                User.used_bytes + User.reserved_bytes + amount <= User.quota_bytes,
            ),
        )
        .values(reserved_bytes=User.reserved_bytes + amount)
        .execution_options(synchronize_session=False)
    ).rowcount


def reserve(
    user_id: str,
    total: int,
    reservation_id: str | None = None,
    now: datetime | None = None,
    lifetime: timedelta | None = None,
) -> str | None:
    """Make a reservation hold `total` bytes (a new one if None or lapsed); commit.

    Return the reservation's id, or None if the bytes do not fit: the
    reservation then keeps what it held. Holding renews the reservation's life,
    to `lifetime` from now (by default, `reservation_lifetime()`).

    Its own transaction, unlike the helpers around it: every other upload, in
    any process, must see the hold before a byte it covers is written, and no
    lock on the user's row may be held while bytes arrive. Whatever the caller
    has pending is committed with it.
    """
    now = now or utcnow()
    expires_at = now + (lifetime or reservation_lifetime())
    held = 0
    if reservation_id is not None:
        # Renew first: the row is locked from here on, so a sweep of lapsed
        # reservations cannot release it under us.
        held = db.session.execute(
            update(Reservation)
            .where(Reservation.id == reservation_id)
            .values(expires_at=expires_at)
            .returning(Reservation.bytes)
            .execution_options(synchronize_session=False)
        ).scalar()
        if held is None:
            reservation_id, held = None, 0
    if total > held and not _hold(user_id, total - held):
        db.session.commit()
        return None
    if reservation_id is None:
        reservation = Reservation(user_id=user_id, bytes=total, expires_at=expires_at)
        db.session.add(reservation)
        db.session.flush()
        reservation_id = reservation.id
    elif total > held:
        db.session.execute(
            update(Reservation)
            .where(Reservation.id == reservation_id)
            .values(bytes=total)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return reservation_id


def _take(reservation_id: str | None) -> tuple[str | None, int]:
    """Delete a reservation; return its user and bytes (None, 0 if it is gone)."""
    if reservation_id is None:
        return None, 0
    row = db.session.execute(
        delete(Reservation)
        .where(Reservation.id == reservation_id)
        .returning(Reservation.user_id, Reservation.bytes)
        .execution_options(synchronize_session=False)
    ).first()
    return (row.user_id, row.bytes) if row else (None, 0)


def release(reservation_id: str | None) -> None:
    """Give back what a reservation holds; harmless if it was already settled.

    Commits, like `reserve`: the space is free for other uploads at once, even
    when the caller's own work is then rolled back.
    """
    user_id, held = _take(reservation_id)
    if held:
        db.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(reserved_bytes=User.reserved_bytes - held)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()


def charge(user: User, size: int, reservation_id: str | None = None) -> None:
    """Count `size` stored bytes, turning the reservation that held them into use.

    Part of the caller's transaction: no commit, and no rollback when it
    raises QuotaExceeded because the bytes do not fit (e.g. the quota was
    lowered while they arrived); the caller rolls back its work.
    """
    _, held = _take(reservation_id)
    charged = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(
                User.quota_bytes.is_(None),
                User.used_bytes + User.reserved_bytes - held + size <= User.quota_bytes,
            ),
        )
        .values(
            used_bytes=User.used_bytes + size,
            reserved_bytes=User.reserved_bytes - held,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not charged:
        raise refuse(user.id, size, held)


def release_expired(now: datetime | None = None, user_id: str | None = None) -> int:
    """Release reservations nobody renewed (their upload died); return how many."""
    now = now or utcnow()
    query = select(Reservation.id).where(Reservation.expires_at <= now)
    if user_id is not None:
        query = query.where(Reservation.user_id == user_id)
    expired = list(db.session.scalars(query))
    for reservation_id in expired:
        release(reservation_id)
    return len(expired)


def reservation_totals() -> tuple[int, int]:
    """Return how many reservations are held, and their bytes (for metrics)."""
    count, held = db.session.execute(
        select(func.count(Reservation.id), total_bytes(Reservation.bytes))
    ).one()
    return count, held
