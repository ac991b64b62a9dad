"""Getting back into an account by mail: "Forgot your password?" and invitations."""

from datetime import datetime, timedelta

from vault.errors import MailNotConfigured
from vault.extensions import db
from vault.models import User, utcnow
from vault.services import accounts, audit, mail_limits, outbox

LIMIT_WINDOW = timedelta(hours=1)


def request_password_reset(
    email: str, client_address: str | None, now: datetime | None = None
) -> None:
    """Queue a reset mail for whoever has this email, if anyone.

    Every address takes the same path (check, count, one INSERT): whether an
    account has it is decided by the sender, later, so neither the page nor
    its timing tells. Raises MailNotConfigured, BadRequest for something that
    is not an email address, TooManyAttempts past the hourly limits.
    """
    if not outbox.configured():
        raise MailNotConfigured()
    now = now or utcnow()
    email = accounts.normalize_email(email)
    mail_limits.spend(
        mail_limits.reset_mail_limits(email, client_address),
        now,
        LIMIT_WINDOW,
        "password reset requests",
    )
    queue_password_reset(email)
    db.session.commit()


def queue_password_reset(email: str, by: User | None = None) -> None:
    """Queue a reset mail for the account with this email (the caller commits).

    `by` is the administrator who sent it: the mail then names no visitor.
    Raises MailNotConfigured.
    """
    if not outbox.configured():
        raise MailNotConfigured()
    data = {"by": by.email} if by else None
    outbox.queue("password_reset", to_address=email, data=data)


def add_invited_user(
    actor: User | None, email: str, *, is_admin: bool, quota_bytes: int | None
) -> User:
    """Add an account without a password and queue its invitation (no commit).

    Raises MailNotConfigured, BadRequest, or Conflict if the email is taken.
    """
    if not outbox.configured():
        raise MailNotConfigured()
    user = accounts.add_account(
        email, accounts.NO_PASSWORD, is_admin=is_admin, quota_bytes=quota_bytes
    )
    db.session.flush()  # the outbox row names it: the account goes in first
    audit.record(
        "user.invited",
        actor=actor,
        target=user,
        after={"email": user.email, "is_admin": is_admin, "quota_bytes": quota_bytes},
    )
    outbox.queue("invitation", user=user, data={"by": actor.email if actor else None})
    return user


def awaits_password(user: User) -> bool:
    """Return whether the account was invited and has not chosen a password."""
    return user.password_hash == accounts.NO_PASSWORD
