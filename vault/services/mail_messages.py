"""What each kind of queued mail says, composed as it is sent.

Composing at send time keeps secrets out of the outbox: a reset or invitation
link's token is made here, stored hashed like every other, and exists in
clear only in the message handed to the SMTP server. Whom a mail is about is
looked up again too: a deleted, disabled or since opted-out account gets
nothing (None).
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from flask import current_app, render_template
from sqlalchemy import select

from vault.extensions import db
from vault.links import external_url
from vault.models import ShareAccess, User
from vault.models_upkeep import OutboxMail
from vault.services import accounts, audit

INVITATION_LIFETIME = timedelta(days=7)
SUBJECTS = {
    "password_reset": "Reset your vault password",
    "invitation": "You are invited to vault",
    "password_changed": "Your vault password was changed",
    "email_changed": "The email of your vault account was changed",
    "token_created": "A new API token was made for your vault account",
    "uploads": "New files in your upload link",
}


def compose(row: OutboxMail, now: datetime) -> EmailMessage | None:
    """Return the message for a queued mail, or None if nobody should get it.

    May add rows (a reset link, its audit event): the caller commits them
    before sending.
    """
    found = BUILDERS[row.kind](row, now)
    if found is None:
        return None
    to_address, context = found
    body = render_template(f"mail/{row.kind}.txt", **context)
    return _message(to_address, SUBJECTS[row.kind], body)


def test_message(to_address: str) -> EmailMessage:
    """Return the message `flask mail test` sends; BadRequest for a bad address."""
    to_address = accounts.normalize_email(to_address)
    body = "This is a test message from vault: its mail settings work.\n"
    return _message(to_address, "Test message from vault", body)


def _message(to_address: str, subject: str, body: str) -> EmailMessage:
    sender = current_app.config["MAIL_FROM"]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to_address
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].partition("@")[2])
    # Out-of-office replies and the like are not sent back to a robot.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def _account(row: OutboxMail) -> User | None:
    user = db.session.get(User, row.user_id) if row.user_id else None
    return None if user is None or user.disabled else user


def _password_reset(row: OutboxMail, now: datetime):
    # Queued for the address as typed: only here is it known whether an
    # account has it, away from the request that asked.
    user = db.session.scalar(select(User).where(User.email == row.to_address))
    if user is None or user.disabled:
        return None
    context = _reset_link(user, now, accounts.RESET_LIFETIME)
    sent_by = (row.data or {}).get("by")
    if sent_by is None:
        # Asked for by a visitor; an administrator's request is audited as made.
        expires = context["expires_at"].isoformat(timespec="seconds")
        audit.record(
            "password.reset_mailed", target=user, after={"expires_at": expires}, now=now
        )
    return user.email, {**context, "sent_by": sent_by}


def _invitation(row: OutboxMail, now: datetime):
    user = _account(row)
    if user is None:
        return None
    context = _reset_link(user, now, INVITATION_LIFETIME)
    return user.email, {**context, "invited_by": (row.data or {}).get("by")}


def _reset_link(user: User, now: datetime, lifetime: timedelta) -> dict:
    token, reset = accounts.new_password_reset(user, now, lifetime)
    return {
        "user": user,
        "link": external_url("auth.reset_password", token=token),
        "expires_at": reset.expires_at,
    }


def _notice(row: OutboxMail, _now: datetime):
    """A security notice: to the address fixed when queued, else the account's."""
    user = _account(row)
    if user is None:
        return None
    context = {"user": user, "data": row.data or {}}
    context["account_url"] = external_url("auth.account")
    return row.to_address or user.email, context


def _uploads(row: OutboxMail, _now: datetime):
    user = _account(row)
    if user is None or not user.notify_uploads:
        return None
    data = row.data or {}
    window = [ShareAccess.share_id == row.share_id, ShareAccess.outcome == "upload"]
    window.append(ShareAccess.at <= datetime.fromisoformat(data["until"]))
    if data.get("since"):
        window.append(ShareAccess.at > datetime.fromisoformat(data["since"]))
    files = db.session.scalars(
        select(ShareAccess.detail).where(*window).order_by(ShareAccess.at)
    ).all()
    if not files:
        return None
    return user.email, {
        "user": user,
        "files": files,
        "link_url": external_url("shares.detail", share_id=row.share_id),
        "account_url": external_url("auth.account"),
    }


BUILDERS: dict[str, Callable] = {
    "password_reset": _password_reset,
    "invitation": _invitation,
    "password_changed": _notice,
    "email_changed": _notice,
    "token_created": _notice,
    "uploads": _uploads,
}
