"""Administration: the account changes every admin front end (pages, API, CLI) shares.

Every function that changes an account takes the acting administrator (None is
the command line), records an audit event and commits it with the change.
Finding and listing accounts is services/admin_overview.py.
"""

from datetime import datetime

from flask import current_app
from sqlalchemy import update

from vault.errors import BadRequest, Conflict, VaultError
from vault.extensions import db
from vault.models import User, utcnow
from vault.services import accounts, admin_overview, audit, recovery, sessions
from vault.storage import get_storage

MAX_QUOTA = 2**63 - 1  # what the BIGINT column holds
# Mark "not given" where None already means "unlimited".
DEFAULT = object()
UNCHANGED = object()


def _checked_quota(quota_bytes) -> int | None:
    if quota_bytes is None:
        return None
    if isinstance(quota_bytes, bool) or not isinstance(quota_bytes, int):
        raise BadRequest("The quota must be a number of bytes, or unlimited.")
    if quota_bytes < 0:
        raise BadRequest("The quota cannot be negative.")
    if quota_bytes > MAX_QUOTA:
        raise BadRequest("That quota is too large: choose unlimited instead.")
    return quota_bytes


def create_user(
    actor: User | None,
    email: str,
    password: str,
    *,
    is_admin: bool = False,
    quota_bytes: int | None | object = DEFAULT,
) -> User:
    """Create an account; without a quota it gets VAULT_DEFAULT_QUOTA.

    Raises BadRequest for a bad email, password or quota, Conflict if the
    email is taken.
    """
    user = accounts.add_user(
        email, password, is_admin=is_admin, quota_bytes=_new_quota(quota_bytes)
    )
    audit.record(
        "user.created",
        actor=actor,
        target=user,
        after={
            "email": user.email,
            "is_admin": user.is_admin,
            "quota_bytes": user.quota_bytes,
        },
    )
    db.session.commit()
    return user


def _new_quota(quota_bytes) -> int | None:
    if quota_bytes is DEFAULT:
        quota_bytes = current_app.config.get("DEFAULT_QUOTA_BYTES")
    return _checked_quota(quota_bytes)


def invite_user(
    actor: User | None,
    email: str,
    *,
    is_admin: bool = False,
    quota_bytes: int | None | object = DEFAULT,
) -> User:
    """Create an account without a password and mail it a link to choose one.

    The link works for 7 days; until it is used nobody can sign in to the
    account. Raises MailNotConfigured, BadRequest for a bad email or quota,
    Conflict if the email is taken.
    """
    user = recovery.add_invited_user(
        actor, email, is_admin=is_admin, quota_bytes=_new_quota(quota_bytes)
    )
    db.session.commit()
    return user


def _change_quota(actor: User | None, user: User, quota_bytes) -> None:
    quota_bytes = _checked_quota(quota_bytes)
    if quota_bytes != user.quota_bytes:
        audit.record(
            "user.quota_changed",
            actor=actor,
            target=user,
            before={"quota_bytes": user.quota_bytes},
            after={"quota_bytes": quota_bytes},
        )
        user.quota_bytes = quota_bytes


def _active_admin_ids() -> set[str]:
    """Lock every admin row and return the ids of the enabled ones.

    Two admins removing each other at the same moment must not both succeed,
    so the rows are locked before they are counted, until the change commits.
    A no-op UPDATE does it on every database: PostgreSQL locks the rows (like
    SELECT ... FOR UPDATE, re-checking them after a wait, so the second change
    sees the first), and SQLite, which has no row locks and whose driver reads
    outside transactions, takes its one write lock here rather than later.
    """
    rows = db.session.execute(
        update(User)
        .where(User.is_admin)
        .values(is_admin=True)
        .returning(User.id, User.disabled)
        .execution_options(synchronize_session=False)
    )
    return {row.id for row in rows if not row.disabled}


def _keep_an_admin(user: User) -> None:
    """Raise Conflict if `user` is the last enabled administrator."""
    if _active_admin_ids() == {user.id}:
        raise Conflict(
            f"{user.email} is the last administrator. "
            "Make someone else an administrator first."
        )


def _not_yourself(actor: User | None, user: User, what: str) -> None:
    if actor is not None and actor.id == user.id:
        raise Conflict(f"You cannot {what} your own account.")


def _checked_flag(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"“{name}” must be true or false.")
    return value


def _change_disabled(actor: User | None, user: User, disabled: bool) -> None:
    if _checked_flag(disabled, "disabled") == user.disabled:
        return
    if disabled:
        _not_yourself(actor, user, "disable")
        _keep_an_admin(user)
        # Every browser of the user is signed out now, not at its next visit.
        sessions.revoke_all_sessions(user)
    audit.record(
        "user.disabled" if disabled else "user.enabled",
        actor=actor,
        target=user,
        before={"disabled": user.disabled},
        after={"disabled": disabled},
    )
    user.disabled = disabled


def _change_admin(actor: User | None, user: User, is_admin: bool) -> None:
    if _checked_flag(is_admin, "is_admin") == user.is_admin:
        return
    if not is_admin:
        _keep_an_admin(user)
    audit.record(
        "user.promoted" if is_admin else "user.demoted",
        actor=actor,
        target=user,
        before={"is_admin": user.is_admin},
        after={"is_admin": is_admin},
    )
    user.is_admin = is_admin


def update_user(
    actor: User | None,
    user: User,
    *,
    quota_bytes: int | None | object = UNCHANGED,
    disabled: bool | object = UNCHANGED,
    is_admin: bool | object = UNCHANGED,
) -> User:
    """Change an account's quota, status and role, all or none.

    Raises BadRequest for a bad quota, Conflict as set_disabled and set_admin do.
    """
    try:
        if quota_bytes is not UNCHANGED:
            _change_quota(actor, user, quota_bytes)
        if disabled is not UNCHANGED:
            _change_disabled(actor, user, disabled)
        if is_admin is not UNCHANGED:
            _change_admin(actor, user, is_admin)
    except VaultError:
        db.session.rollback()
        raise
    db.session.commit()
    return user


def set_quota(actor: User | None, user: User, quota_bytes: int | None) -> User:
    """Set the user's quota (None is unlimited); BadRequest if negative."""
    return update_user(actor, user, quota_bytes=quota_bytes)


def set_disabled(actor: User | None, user: User, disabled: bool) -> User:
    """Disable an account (signing out all its sessions) or enable it again.

    While disabled, its API tokens and share links stop working; they work
    again once it is enabled, but its sessions stay signed out. Raises
    Conflict for your own account or the last enabled administrator.
    """
    return update_user(actor, user, disabled=disabled)


def set_admin(actor: User | None, user: User, is_admin: bool) -> User:
    """Make the user an administrator, or remove the role.

    Raises Conflict when that would leave no enabled administrator.
    """
    return update_user(actor, user, is_admin=is_admin)


def issue_password_reset(
    actor: User | None, user: User, now: datetime | None = None
) -> str:
    """Make a one-time link (/reset/<token>) valid for an hour; return its secret.

    Only a hash is stored; earlier unused links of the user stop working.
    """
    now = now or utcnow()
    token, reset = accounts.new_password_reset(user, now, accounts.RESET_LIFETIME)
    audit.record(
        "password.reset_issued",
        actor=actor,
        target=user,
        after={"expires_at": reset.expires_at.isoformat(timespec="seconds")},
        now=now,
    )
    db.session.commit()
    return token


def mail_password_reset(actor: User | None, user: User) -> None:
    """Mail the user a one-time link to choose a new password, valid for an hour.

    Raises MailNotConfigured.
    """
    recovery.queue_password_reset(user.email, by=actor)
    audit.record(
        "password.reset_issued", actor=actor, target=user, after={"sent_by": "mail"}
    )
    db.session.commit()


def delete_user(actor: User | None, user: User, confirmation: str) -> None:
    """Delete an account with all its files, for good.

    `confirmation` must be the account's email. Raises BadRequest otherwise,
    Conflict for your own account or the last enabled administrator.
    """
    if (confirmation or "").strip().lower() != user.email.lower():
        raise BadRequest(f"Type {user.email} to confirm the deletion.")
    _not_yourself(actor, user, "delete")
    try:
        _keep_an_admin(user)
    except Conflict:
        db.session.rollback()
        raise
    audit.record(
        "user.deleted",
        actor=actor,
        target=user,
        before={
            "email": user.email,
            "used_bytes": user.used_bytes,
            "file_count": admin_overview.live_file_count(user),
        },
    )
    user_id = user.id
    # Row first, bytes second: the database cascades to files, sessions,
    # tokens, links and reservations. If removing the bytes fails after the
    # commit, they are orphans that fsck finds; never rows without bytes.
    db.session.delete(user)
    db.session.commit()
    try:
        get_storage().delete_namespace(user_id)
    except OSError:
        current_app.logger.exception("Could not remove the files of user %s", user_id)
