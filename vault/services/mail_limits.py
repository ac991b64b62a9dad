"""Limits on requests that cost something whether or not they succeed: mail.

"Forgot your password?" sends mail to whatever address is typed, so it is
limited per typed address (a person's inbox is not flooded) and per client
address (IPv6: its /64; one client cannot mail the world). Counted in the
login_failures table beside the guesses, so every process sees one count.
"""

import math
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from vault.errors import TooManyAttempts
from vault.extensions import db
from vault.models import LoginFailure
from vault.services import throttle


def reset_mail_limits(email: str, client_address: str | None) -> dict[str, int]:
    """Return where a "Forgot your password?" mail is counted, and how often."""
    # By the email as typed, whether or not an account has it: the limit
    # never tells which emails are registered.
    config = current_app.config
    limits = {
        "reset-account:" + throttle.digest(email): config["RESET_MAILS_PER_ACCOUNT"]
    }
    network = throttle.client_network(client_address)
    if network:
        limits[f"reset-address:{network}"] = config["RESET_MAILS_PER_ADDRESS"]
    return limits


def spend(limits: dict[str, int], now: datetime, window: timedelta, what: str) -> None:
    """Count one request under each key, each at most `limit` times per window.

    For requests that cost us something whether or not they succeed (a mail
    sent): they are counted, not failures. Raises TooManyAttempts, counting
    nothing and rolling the session back, when any key is spent; call it
    first in a use case, which commits the count.
    """
    # Counted first, then checked, in turns (as throttle.admit does): two
    # requests at once cannot both take the last one.
    throttle.take_turns(list(limits))
    since = now - window
    db.session.execute(
        delete(LoginFailure).where(
            LoginFailure.key.in_(list(limits)), LoginFailure.created_at <= since
        )
    )
    subject = throttle.digest(what)
    db.session.add_all(
        LoginFailure(key=key, subject=subject, created_at=now) for key in limits
    )
    db.session.flush()
    for key, limit in limits.items():
        # This one is the newest: past the limit if `limit` others are in the
        # window, allowed again once the oldest of those leaves it.
        oldest = db.session.scalars(
            select(LoginFailure.created_at)
            .where(LoginFailure.key == key, LoginFailure.created_at > since)
            .order_by(LoginFailure.created_at.desc(), LoginFailure.id.desc())
            .offset(limit)
            .limit(1)
        ).first()
        if oldest is not None:
            db.session.rollback()
            raise _too_many_requests(oldest + window, now, what)


def _too_many_requests(until: datetime, now: datetime, what: str) -> TooManyAttempts:
    return TooManyAttempts(
        math.ceil((until - now).total_seconds()), what, "Too many {what}."
    )
