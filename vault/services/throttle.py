"""Throttling of failed attempts: sign-ins per account and per client address,
share passwords per link and per address.

Counted in the database so that every worker process sees the same numbers.
Keys use the email as typed (normalized), whether or not an account has it, so a
lockout never tells anyone which emails are registered.
"""

import hashlib
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from vault.errors import TooManyAttempts
from vault.extensions import db
from vault.models import LoginFailure


def _account_key(email: str) -> str:
    # Hashed: a fixed length whatever was typed, and typed emails (often
    # passwords typed in the wrong field) are not kept in clear.
    return "account:" + hashlib.sha256(email.encode()).hexdigest()


def _keys(email: str, client_address: str | None) -> list[str]:
    keys = [_account_key(email)]
    if client_address:
        keys.append(f"address:{client_address}")
    return keys


def _window() -> timedelta:
    return timedelta(seconds=current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])


def check_allowed(email: str, client_address: str | None, now: datetime) -> None:
    """Raise TooManyAttempts while the account or the address is locked out."""
    check_keys(_keys(email, client_address), now)


def record_failure(email: str, client_address: str | None, now: datetime) -> list[str]:
    """Count a failed sign-in without committing (the caller commits it with its
    audit events); return the kinds ("account", "address") this failure locked.
    """
    keys = _keys(email, client_address)
    _add_failures(keys, now)
    return [key.partition(":")[0] for key in keys if _just_reached_limit(key, now)]


def check_keys(keys: list[str], now: datetime, what: str = "sign-in") -> None:
    """Raise TooManyAttempts while any key has too many recent failures."""
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    since = now - _window()
    for key in keys:
        recent = db.session.scalars(
            select(LoginFailure.created_at)
            .where(LoginFailure.key == key, LoginFailure.created_at > since)
            .order_by(LoginFailure.created_at.desc())
            .limit(limit)
        ).all()
        if len(recent) >= limit:
            # Locked until the oldest of the last `limit` failures leaves the window.
            unlocked_at = recent[-1] + _window()
            seconds = max(1, int((unlocked_at - now).total_seconds()))
            raise TooManyAttempts(seconds, what)


def record_keys(keys: list[str], now: datetime) -> None:
    _add_failures(keys, now)
    db.session.commit()


def _add_failures(keys: list[str], now: datetime) -> None:
    db.session.execute(
        delete(LoginFailure).where(LoginFailure.created_at <= now - _window())
    )
    for key in keys:
        db.session.add(LoginFailure(key=key, created_at=now))
    db.session.flush()


def _just_reached_limit(key: str, now: datetime) -> bool:
    # Refused attempts are not counted (check_keys raises first), so a key
    # reaches the limit exactly once per lockout: the audit log records the
    # lockout, not every attempt a brute force makes while locked out.
    recent = db.session.scalar(
        select(func.count()).where(
            LoginFailure.key == key, LoginFailure.created_at > now - _window()
        )
    )
    return recent == current_app.config["LOGIN_MAX_FAILURES"]


def clear_account(email: str) -> None:
    db.session.execute(
        delete(LoginFailure).where(LoginFailure.key == _account_key(email))
    )
