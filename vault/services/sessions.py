"""Server-side sessions: one row per signed-in browser, its token stored hashed."""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from vault import security
from vault.extensions import db
from vault.models import User, UserSession, utcnow


def start_session(user: User, user_agent: str = "", now: datetime | None = None) -> str:
    """Record a new signed-in browser and return its secret token."""
    now = now or utcnow()
    token = security.new_token()
    lifetime = timedelta(days=current_app.config["SESSION_LIFETIME_DAYS"])
    db.session.execute(delete(UserSession).where(UserSession.expires_at <= now))
    db.session.add(
        UserSession(
            user_id=user.id,
            token_hash=security.hash_token(token),
            created_at=now,
            expires_at=now + lifetime,
            user_agent=(user_agent or "")[:255],
        )
    )
    db.session.commit()
    user.session_token = token
    return token


def load_session(token: str, now: datetime | None = None) -> User | None:
    """Return the user of a live session, or None if it was revoked or expired."""
    now = now or utcnow()
    row = db.session.scalar(
        select(UserSession).where(
            UserSession.token_hash == security.hash_token(token),
            UserSession.expires_at > now,
        )
    )
    if row is None or row.user.disabled:
        return None
    row.user.session_token = token
    return row.user


def end_session(token: str) -> None:
    db.session.execute(
        delete(UserSession).where(UserSession.token_hash == security.hash_token(token))
    )
    db.session.commit()


def revoke_all_sessions(user: User) -> None:
    """Sign every browser of the user out (the caller commits)."""
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
