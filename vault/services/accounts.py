"""Accounts: creation, sign-in and passwords (sessions are in sessions.py)."""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update

from vault import metrics, security
from vault.errors import (
    AuthenticationFailed,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
)
from vault.extensions import db
from vault.models import PasswordReset, User, new_id, utcnow
from vault.services import audit, notices, sessions, throttle
from vault.text import has_control_characters

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
# What the audit log keeps of a sign-in with something else in the email field.
NOT_AN_EMAIL = "(not an email address)"
# No argon2 hash looks like this, so no password matches it: an invited
# account cannot be signed in to until its link sets one.
NO_PASSWORD = "!invited"  # noqa: S105 (a marker, not a password)
RESET_LIFETIME = timedelta(hours=1)  # of a link to choose a new password


def normalize_email(email: str) -> str:
    """Return the email trimmed and lower-cased; raise BadRequest if malformed."""
    email = (email or "").strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or len(email) > 254:
        raise BadRequest("Enter a valid email address.")
    if any(char.isspace() for char in email) or has_control_characters(email):
        raise BadRequest("Enter a valid email address.")
    return email


def validate_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise BadRequest(
            f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters."
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise BadRequest("That password is too long.")


def has_users() -> bool:
    return db.session.scalar(select(func.count()).select_from(User)) > 0


def registration_open() -> bool:
    return current_app.config["REGISTRATION"] == "open"


def add_user(
    email: str, password: str, *, is_admin: bool, quota_bytes: int | None
) -> User:
    """Add an account to the session without committing.

    Raises BadRequest, or Conflict if the email is taken.
    """
    validate_password(password)
    return add_account(
        email,
        security.hash_password(password),
        is_admin=is_admin,
        quota_bytes=quota_bytes,
    )


def add_account(
    email: str, password_hash: str, *, is_admin: bool, quota_bytes: int | None
) -> User:
    """Add an account with this hash (the caller commits); BadRequest, Conflict."""
    email = normalize_email(email)
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise Conflict("An account with that email already exists.")
    user = User(
        id=new_id(),
        email=email,
        password_hash=password_hash,
        is_admin=is_admin,
        quota_bytes=quota_bytes,
    )
    db.session.add(user)
    return user


def create_user(email: str, password: str, *, is_admin: bool = False) -> User:
    """Create an account with the default quota (sign-up and first run).

    Raises BadRequest, or Conflict if the email is taken.
    """
    user = add_user(
        email,
        password,
        is_admin=is_admin,
        quota_bytes=current_app.config.get("DEFAULT_QUOTA_BYTES"),
    )
    db.session.commit()
    return user


def create_first_admin(email: str, password: str) -> User:
    """Create the administrator of a fresh install; Forbidden once anyone exists."""
    if has_users():
        raise Forbidden("This vault has already been set up.")
    return create_user(email, password, is_admin=True)


def register(email: str, password: str) -> User:
    """Self sign-up, allowed only when registration is open."""
    if not registration_open():
        raise Forbidden("Sign-up is closed. Ask an administrator for an account.")
    return create_user(email, password)


def authenticate(
    email: str, password: str, client_address: str | None, now: datetime | None = None
) -> User:
    """Return the user for these credentials.

    Raises TooManyAttempts while throttled, AuthenticationFailed otherwise; an
    unknown email, a wrong password and a disabled account look the same.
    Commits the sign-in, or the failure before raising: a failure must count
    whatever the caller does next.
    """
    now = now or utcnow()
    email = (email or "").strip().lower()
    attempt = throttle.admit(throttle.sign_in_keys(email, client_address), now)
    user = None
    if not has_control_characters(email):
        user = db.session.scalar(select(User).where(User.email == email))
    refused = None
    if user is None or user.password_hash == NO_PASSWORD:
        # An invited account has no password yet. Checking the marker would
        # fail at once, and the quick answer would tell that the address has
        # an invitation: it takes the time of a real check, like an unknown one.
        security.burn_password_check(password or "")
    elif security.verify_password(user.password_hash, password or ""):
        if not user.disabled:
            _signed_in(user, password, attempt)
            db.session.commit()
            return user
        refused = user
    _record_failure(email, attempt, client_address, disabled=refused)
    # Committed before the error ends the request: a failure always counts.
    db.session.commit()
    raise AuthenticationFailed()


def _record_failure(
    email: str,
    attempt: throttle.Attempt,
    client_address: str | None,
    disabled: User | None = None,
) -> None:
    """Count the failure and log it; a lockout is logged once, when it starts.

    `disabled` is the account whose right password was refused because it is
    disabled: the log says so, the person sees the usual message.
    """
    label, now = _typed_email(email), attempt.now
    # Counted like a wrong password even then: a guesser must not learn from
    # the throttle's answers which guess was right.
    locked = throttle.fail(attempt)
    metrics.sign_in_failed()
    if disabled is None:
        audit.record(
            "sign_in.failed", target_label=label, address=client_address, now=now
        )
    else:
        audit.record(
            "sign_in.refused",
            target=disabled,
            after={"reason": "disabled"},
            address=client_address,
            now=now,
        )
    if locked:
        audit.record(
            "sign_in.locked",
            target_label=label,
            after={"locked": locked},
            address=client_address,
            now=now,
        )


def _typed_email(email: str) -> str:
    """Return what the audit log keeps of an email typed at sign-in."""
    # People type their password into the email field: whatever does not look
    # like an email is not written down for every admin to read.
    try:
        return normalize_email(email)
    except BadRequest:
        return NOT_AN_EMAIL


def _signed_in(user: User, password: str, attempt: throttle.Attempt) -> None:
    if security.password_needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    user.last_login_at = attempt.now
    # Not a failure after all, yet the address keeps the others it counted.
    throttle.release(attempt)
    throttle.clear_target(throttle.account_key(user.email))


def change_password(
    user: User,
    current_password: str,
    new_password: str,
    client_address: str | None = None,
) -> None:
    """Set a new password and sign out every session of the user."""
    if not security.verify_password(user.password_hash, current_password or ""):
        raise AuthenticationFailed("Your current password is not correct.")
    validate_password(new_password)
    user.password_hash = security.hash_password(new_password)
    audit.record("password.changed", actor=user, target=user, address=client_address)
    notices.password_changed(user)
    sessions.revoke_all_sessions(user)
    db.session.commit()


def change_email(
    user: User,
    current_password: str,
    new_email: str,
    client_address: str | None = None,
) -> User:
    """Move the account to another email; the old address is told.

    Raises AuthenticationFailed for a wrong password, BadRequest, or Conflict
    if another account has the email.
    """
    if not security.verify_password(user.password_hash, current_password or ""):
        raise AuthenticationFailed("Your current password is not correct.")
    new_email = normalize_email(new_email)
    if new_email == user.email:
        raise BadRequest("That is already your email.")
    if db.session.scalar(select(User.id).where(User.email == new_email)):
        raise Conflict("Another account has that email.")
    old_email, user.email = user.email, new_email
    # Links mailed to the old address (a reset, an invitation) stop working:
    # someone leaving a mailbox that others can read must not be followed.
    db.session.execute(
        delete(PasswordReset).where(
            PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)
        )
    )
    audit.record(
        "user.email_changed",
        actor=user,
        target=user,
        before={"email": old_email},
        after={"email": new_email},
        address=client_address,
    )
    notices.email_changed(user, old_email)
    db.session.commit()
    return user


def new_password_reset(
    user: User, now: datetime, lifetime: timedelta
) -> tuple[str, PasswordReset]:
    """Add a one-time link's row (the caller commits); return its secret and row.

    Only a hash is stored; earlier unused links of the user stop working.
    """
    token = security.new_token()
    db.session.execute(
        delete(PasswordReset).where(
            PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)
        )
    )
    reset = PasswordReset(
        user_id=user.id,
        token_hash=security.hash_token(token),
        created_at=now,
        expires_at=now + lifetime,
    )
    db.session.add(reset)
    return token, reset


def password_reset_for(token: str, now: datetime | None = None) -> PasswordReset:
    """Return the reset a link's token names, if it can still be used.

    Raises NotFound for an unknown token, Gone for one expired or used.
    """
    now = now or utcnow()
    reset = None
    if token and len(token) <= 64 and token.isascii():
        reset = db.session.scalar(
            select(PasswordReset).where(
                PasswordReset.token_hash == security.hash_token(token)
            )
        )
    if reset is None:
        raise NotFound("There is no such link. Check that you copied all of it.")
    if reset.used_at is not None:
        raise Gone(f"This link was already used. {_new_link_hint()}")
    if reset.expires_at <= now:
        raise Gone(f"This link has expired. {_new_link_hint()}")
    return reset


def _new_link_hint() -> str:
    if current_app.config.get("SMTP") is not None:
        return "Ask for a new one with “Forgot your password?” on the sign-in page."
    return "Ask an administrator for a new one."


def reset_password_with_token(
    token: str,
    new_password: str,
    now: datetime | None = None,
    client_address: str | None = None,
) -> User:
    """Set a new password through a one-time link and sign out every session.

    Raises NotFound, Gone (expired or used) or BadRequest (weak password).
    """
    now = now or utcnow()
    reset = password_reset_for(token, now)
    validate_password(new_password)
    # Conditional, so two submissions of one link cannot both use it.
    used = db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not used:
        db.session.rollback()
        raise Gone(f"This link was already used. {_new_link_hint()}")
    user = reset.user
    if user.password_hash != NO_PASSWORD:
        # Choosing the first password of an invited account changes nothing.
        notices.password_changed(user)
    user.password_hash = security.hash_password(new_password)
    # Someone locked out by guesses gets a fresh start with the new password.
    throttle.clear_target(throttle.account_key(user.email))
    audit.record(
        "password.reset_used",
        actor=user,
        target=user,
        address=client_address,
        now=now,
    )
    sessions.revoke_all_sessions(user)
    db.session.commit()
    return user
