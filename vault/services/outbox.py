"""The outbox: mail is queued as rows and sent by a background sender.

A table rather than a queue in memory: a queued mail survives a restart, any
app server (or `flask --app vault mail send` from cron) may send it, and a
request that queues one does no more than an INSERT, so "Forgot your
password?" answers in the same time whether or not an account has the email.
Rows hold what to say, never a secret: a reset link's token is made as its
mail is sent (services/mail_messages.py).

Each mail is claimed by one sender with a conditional UPDATE (a lease, as tus
uploads have), sent, then deleted. A failure is logged without the message or
the SMTP password and tried again later, RETRY_DELAYS apart; then given up. A
sender that dies after the server took a mail and before deleting its row
sends it again when the lease lapses: at least once, never lost.
"""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import event, func, or_, select, update
from sqlalchemy.orm import Session

from vault import mail
from vault.extensions import db
from vault.models import ShareLink, User, utcnow
from vault.models_upkeep import OutboxMail
from vault.services import mail_messages

# Waits after the 1st, 2nd, ... failed attempt; one more failure gives up.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
)
LEASE = timedelta(minutes=5)
BATCH = 100
_QUEUED = "vault.mail_queued"


def configured() -> bool:
    """Return whether this vault sends mail (VAULT_SMTP_URL is set)."""
    return current_app.config.get("SMTP") is not None


def queue(
    kind: str,
    *,
    user: User | None = None,
    to_address: str | None = None,
    share: ShareLink | None = None,
    data: dict | None = None,
    send_after: datetime | None = None,
) -> OutboxMail | None:
    """Add a mail to the session (the caller commits); None without SMTP.

    Once the caller commits, this process's sender is woken to send it.
    """
    if not configured():
        return None
    row = OutboxMail(
        kind=kind,
        user_id=user.id if user else None,
        to_address=to_address,
        share_id=share.id if share else None,
        data=data,
        created_at=utcnow(),
        send_after=send_after or utcnow(),
    )
    db.session.add(row)
    db.session.info[_QUEUED] = True
    return row


@event.listens_for(Session, "after_commit")
def _wake_sender(session: Session) -> None:
    # Every use case that queues mail wakes the sender by committing: none
    # can forget to, and a rolled-back mail wakes nobody.
    if session.info.pop(_QUEUED, False):
        sender = current_app.extensions.get("vault.mail_sender")
        if sender is not None:
            sender.wake()


@event.listens_for(Session, "after_rollback")
def _forget_queued(session: Session) -> None:
    session.info.pop(_QUEUED, None)


def pending_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMail))


def deliver_pending(now: datetime | None = None) -> tuple[int, int]:
    """Send every mail that is due; return how many were sent, how many failed.

    `now` fixes the time (tests); otherwise each mail is claimed at the time
    its turn comes, so that a batch sent to a slow server never takes a lease
    that has already run out and that another sender would take too.
    """
    sent = failed = 0
    clock = utcnow if now is None else lambda: now
    started = clock()
    due = db.session.scalars(
        select(OutboxMail.id)
        .where(OutboxMail.send_after <= started, _unclaimed(started))
        .order_by(OutboxMail.send_after, OutboxMail.id)
        .limit(BATCH)
    ).all()
    db.session.commit()
    for mail_id in due:
        claimed_at = clock()
        if not _claim(mail_id, claimed_at):
            continue  # another sender took it
        outcome = _deliver(db.session.get(OutboxMail, mail_id), claimed_at)
        sent += outcome == "sent"
        failed += outcome == "failed"
    return sent, failed


def _unclaimed(now: datetime):
    return or_(OutboxMail.locked_until.is_(None), OutboxMail.locked_until <= now)


def _claim(mail_id: int, now: datetime) -> bool:
    """Take the lease on one mail, in a transaction of its own."""
    claimed = db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == mail_id, _unclaimed(now))
        .values(locked_until=now + LEASE)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(claimed)


def _deliver(row: OutboxMail, now: datetime) -> str:
    """Send one claimed mail: "sent", "dropped" (nobody to tell) or "failed".

    Commits in steps: the mail's rows (a reset link) before sending, its
    removal (or its next attempt) after.
    """
    mail_id, kind = row.id, row.kind
    try:
        message = mail_messages.compose(row, now)
    except Exception:
        # A mail that cannot be composed (a bug, the database gone) must not
        # come back forever: it is a failed attempt like any other.
        db.session.rollback()
        current_app.logger.exception(
            "mail %d (%s): could not compose it", mail_id, kind
        )
        _failed(db.session.get(OutboxMail, mail_id), now, "could not compose it")
        return "failed"
    if message is None:
        db.session.delete(row)
        db.session.commit()
        return "dropped"
    # A reset link's row must exist before its mail can be opened.
    db.session.commit()
    settings = current_app.config["SMTP"]
    try:
        mail.send(settings, message)
    except mail.MailFailed as error:
        _failed(row, now, str(error))
        return "failed"
    db.session.delete(row)
    db.session.commit()
    return "sent"


def _failed(row: OutboxMail, now: datetime, reason: str) -> None:
    """Log a failed attempt and commit when to try again, or give up.

    Never logs the message: it may hold a link's secret.
    """
    row.attempts += 1
    logger = current_app.logger
    if row.attempts > len(RETRY_DELAYS):
        logger.error(
            "mail %d (%s): giving up after %d attempts: %s",
            row.id,
            row.kind,
            row.attempts,
            reason,
        )
        db.session.delete(row)
    else:
        delay = RETRY_DELAYS[row.attempts - 1]
        logger.warning(
            "mail %d (%s): attempt %d failed, trying again in %d s: %s",
            row.id,
            row.kind,
            row.attempts,
            delay.total_seconds(),
            reason,
        )
        row.send_after, row.locked_until = now + delay, None
    db.session.commit()
