"""Throttling of guesses: sign-in passwords, share-link passwords and link tokens.

Two limits, chosen so that neither can be turned against people who did
nothing wrong (a whole household or office behind one address, or the owner
of an account someone else is guessing at):

- **Per target** (an account, a link), from any address: after
  LOGIN_BACKOFF_AFTER failures, each further try must wait twice as long as
  the one before (1 s, 2 s, 4 s, ...), at most LOGIN_BACKOFF_MAX_SECONDS after
  the latest failure. Guessing stays slow (after the cap, a few dozen tries an
  hour at most, however many addresses a guesser has), while the owner is
  never locked out for longer than the cap: the right password works as soon
  as the wait has passed, and a success clears the count. Failures are
  remembered for LOGIN_FAILURE_WINDOW_SECONDS, far longer than the cap, so the
  wait does not shrink again for a guesser who keeps to the pace.
- **Per client address** (an IPv6 /64): LOGIN_ADDRESS_MAX_FAILURES failures
  within LOGIN_ADDRESS_WINDOW_SECONDS lock the address out, but only when
  they were spread over at least LOGIN_ADDRESS_MIN_ACCOUNTS targets. That is
  what guessing many accounts looks like (password spraying); failures on one
  account alone are that account's back-off, never the household's lockout.

A successful sign-in does not clear its address's count: a guesser with an
account of their own could otherwise wipe it between guesses.

Counted in the database so that every worker process sees the same numbers.
A guess is counted before its password is checked (`admit`) and judged by the
failures counted before it, so guesses sent together as a wait ends get one
try between them, not one each; a right password takes its count back.
Keys use the email as typed (normalized), whether or not an account has it,
so the throttle never tells anyone which emails are registered.
"""

import hashlib
import ipaddress
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, or_, select

from vault import metrics
from vault.errors import TooManyAttempts
from vault.extensions import db
from vault.models import LoginFailure

log = logging.getLogger(__name__)

# The address keys of each kind of guess; clearing an address clears them all.
ADDRESS_KINDS = {
    "address": "sign-in",
    "share-address": "link passwords",
    "share-miss": "link addresses",
}
ADDRESS_PREFIXES = tuple(f"{prefix}:" for prefix in ADDRESS_KINDS)


@dataclass(frozen=True)
class Keys:
    """Where one attempt is counted."""

    target: str | None  # backed off: "account:<hash>", "share:<link id>"
    address: str | None  # locked by volume: "address:<network>", ...
    subject: str  # what was tried, counted as distinct per address


@dataclass(frozen=True)
class Backoff:
    """The state of one target, for the administrators."""

    failures: int  # within LOGIN_FAILURE_WINDOW_SECONDS
    last_failure_at: datetime | None
    wait_until: datetime | None  # None: the next try is allowed now


@dataclass(frozen=True)
class AddressLockout:
    address: str  # a network for IPv6
    kind: str  # what was guessed: ADDRESS_KINDS
    failures: int
    targets: int
    until: datetime


def client_network(address: str | None) -> str | None:
    """Return the address a client is counted under (its /64 for IPv6)."""
    # One IPv6 subscriber usually holds a whole /64: counting single addresses
    # there would let a guesser rotate through them for free.
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or None
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def digest(text: str) -> str:
    # A fixed length whatever was typed, and typed emails (often passwords
    # typed in the wrong field) are not kept in clear.
    return hashlib.sha256(text.encode()).hexdigest()


def account_key(email: str) -> str:
    return "account:" + digest(email)


def sign_in_keys(email: str, client_address: str | None) -> Keys:
    network = client_network(client_address)
    return Keys(
        target=account_key(email),
        address=f"address:{network}" if network else None,
        subject=digest(email),
    )


def share_password_keys(share_id: str, client_address: str | None) -> Keys:
    network = client_network(client_address)
    return Keys(
        target=f"share:{share_id}",
        address=f"share-address:{network}" if network else None,
        subject=share_id,
    )


def share_token_keys(token: str, client_address: str | None) -> Keys:
    # Unknown tokens have no target to back off: only their volume counts.
    network = client_network(client_address)
    return Keys(
        target=None,
        address=f"share-miss:{network}" if network else None,
        subject=digest(token or ""),
    )


def _config(name: str) -> int:
    return int(current_app.config[name])


def _seconds(name: str) -> timedelta:
    return timedelta(seconds=_config(name))


def check(keys: Keys, now: datetime, what: str = "sign-in") -> None:
    """Raise TooManyAttempts while the target must wait or the address is locked."""
    until = _wait_until(keys, now)
    if until is not None:
        raise _too_many(until, now, what)


@dataclass(frozen=True)
class Attempt:
    """A guess counted as a failure while it is checked (see `admit`)."""

    keys: Keys
    now: datetime
    target_id: int | None  # its rows in login_failures
    address_id: int | None


def admit(keys: Keys, now: datetime, what: str = "sign-in") -> Attempt:
    """Count a guess as a failure before it is checked, and commit it.

    Raises TooManyAttempts, counting nothing and rolling the session back,
    while the target must wait or the address is locked. Call it first in a
    use case, with nothing of its own pending (this commits or rolls back the
    whole session); then `fail` or `release` the attempt.
    """
    # A check made before anything is counted lets every guess sent together
    # as a wait ends through (one per server thread). Counted first, in turns,
    # each guess is judged by all those before it: only the first passes. The
    # password is checked after the commit, holding no lock over argon2; a
    # crash before `fail` or `release` leaves one counted failure, no more.
    _take_turns(keys)
    attempt = _add(keys, now)
    until = _wait_until(keys, now, attempt)
    if until is not None:
        db.session.rollback()
        raise _too_many(until, now, what)
    db.session.commit()
    return attempt


def fail(attempt: Attempt) -> list[str]:
    """Keep an admitted guess as a failure (the caller commits it with its log);
    return what this failure started: "account" (its back-off), "address".
    """
    keys, now = attempt.keys, attempt.now
    longest = max(_seconds("LOGIN_FAILURE_WINDOW_SECONDS"), _address_window())
    db.session.execute(
        delete(LoginFailure).where(LoginFailure.created_at <= now - longest)
    )
    started = []
    # Judged by the failures up to this one, each of these is reported once:
    # refused guesses are not counted, and every later guess sees this one.
    free = _config("LOGIN_BACKOFF_AFTER")
    if keys.target:
        if backoff(keys.target, now, attempt.target_id).failures == free:
            started.append(keys.target.partition(":")[0])
    if keys.address and _address_lockout(keys.address, now, attempt.address_id):
        started.append("address")
    for kind in started:
        _report_lockout(kind, keys)
    return started


def _report_lockout(kind: str, keys: Keys) -> None:
    # For the operator's eye as well as the audit log. An account is named by
    # its key's digest (what was typed may be a password in the wrong field);
    # a link by its id; an address by its network.
    key = keys.address if kind == "address" else keys.target
    log.warning("lockout started: %s (%s)", kind, key)
    metrics.locked(kind)


def release(attempt: Attempt) -> None:
    """Forget an admitted guess that was right (the caller commits)."""
    ids = [row_id for row_id in (attempt.target_id, attempt.address_id) if row_id]
    db.session.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))


def record(keys: Keys, now: datetime) -> list[str]:
    """Count a failure without committing (the caller commits it with its log);
    return what this failure started, as `fail` does.
    """
    return fail(_add(keys, now))


def _add(keys: Keys, now: datetime) -> Attempt:
    rows = {
        key: LoginFailure(key=key, subject=keys.subject, created_at=now)
        for key in (keys.target, keys.address)
        if key
    }
    db.session.add_all(rows.values())
    db.session.flush()
    ids = [rows[key].id if key else None for key in (keys.target, keys.address)]
    return Attempt(keys, now, *ids)


def _take_turns(keys: Keys) -> None:
    take_turns([keys.target, keys.address])


def take_turns(keys: list[str | None]) -> None:
    """Make requests counted under the same keys count and check one at a time."""
    # SQLite has one writer at a time: the INSERT that follows waits its turn,
    # and the rows it then reads are every committed one. PostgreSQL runs
    # writers side by side, and a guess could not see the uncommitted row of
    # another: a lock per key, held until the commit, orders them (ids come
    # from a sequence, so a later turn has a higher id). Sorted: no deadlock.
    if db.session.get_bind().dialect.name != "postgresql":
        return
    numbers = {_lock_number(key) for key in keys if key}
    for number in sorted(numbers):
        db.session.execute(select(func.pg_advisory_xact_lock(number)))


def _lock_number(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], signed=True)


def _wait_until(
    keys: Keys, now: datetime, attempt: Attempt | None = None
) -> datetime | None:
    """Return until when a guess must wait, or None; for an attempt, judged by
    the failures counted before its own rows.
    """
    waits = []
    if keys.target:
        through = attempt.target_id - 1 if attempt else None
        waits.append(backoff(keys.target, now, through).wait_until)
    if keys.address:
        through = attempt.address_id - 1 if attempt else None
        waits.append(_address_lockout(keys.address, now, through))
    return max((moment for moment in waits if moment is not None), default=None)


def _too_many(until: datetime, now: datetime, what: str) -> TooManyAttempts:
    return TooManyAttempts(math.ceil((until - now).total_seconds()), what)


def backoff(target_key: str, now: datetime, through: int | None = None) -> Backoff:
    """Return how many recent failures a target has and until when it must wait.

    With `through`, only the failures counted up to that row (by id).
    """
    since = now - _seconds("LOGIN_FAILURE_WINDOW_SECONDS")
    failures, last = db.session.execute(
        select(func.count(), func.max(LoginFailure.created_at)).where(
            LoginFailure.key == target_key,
            LoginFailure.created_at > since,
            *_up_to(through),
        )
    ).one()
    free = _config("LOGIN_BACKOFF_AFTER")
    if failures < free:
        return Backoff(failures, last, None)
    # Bounded so that the power stays a sane number of seconds.
    exponent = min(failures - free, 40)
    delay = min(2**exponent, _config("LOGIN_BACKOFF_MAX_SECONDS"))
    ready = last + timedelta(seconds=delay)
    return Backoff(failures, last, ready if ready > now else None)


def _up_to(through: int | None) -> tuple:
    return () if through is None else (LoginFailure.id <= through,)


def _address_window() -> timedelta:
    return _seconds("LOGIN_ADDRESS_WINDOW_SECONDS")


def _address_lockout(
    address_key: str, now: datetime, through: int | None = None
) -> datetime | None:
    """Return until when an address is locked out, or None (see `backoff`)."""
    limit = _config("LOGIN_ADDRESS_MAX_FAILURES")
    recent = (
        LoginFailure.key == address_key,
        LoginFailure.created_at > now - _address_window(),
        *_up_to(through),
    )
    failures, targets = db.session.execute(
        select(func.count(), func.count(func.distinct(LoginFailure.subject))).where(
            *recent
        )
    ).one()
    if failures < limit or targets < _config("LOGIN_ADDRESS_MIN_ACCOUNTS"):
        return None
    # Locked until the oldest of the last `limit` failures leaves the window.
    oldest = db.session.scalar(
        select(LoginFailure.created_at)
        .where(*recent)
        .order_by(LoginFailure.created_at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    return oldest + _address_window()


def address_lockouts(now: datetime) -> list[AddressLockout]:
    """Return every client address locked out now, the most recent first."""
    recent = LoginFailure.created_at > now - _address_window()
    candidates = db.session.execute(
        select(
            LoginFailure.key,
            func.count(),
            func.count(func.distinct(LoginFailure.subject)),
        )
        .where(recent, _under_address_prefix())
        .group_by(LoginFailure.key)
        .having(func.count() >= _config("LOGIN_ADDRESS_MAX_FAILURES"))
    ).all()
    lockouts = []
    for key, failures, targets in candidates:
        until = _address_lockout(key, now)
        if until is not None:
            prefix, _, address = key.partition(":")
            kind = ADDRESS_KINDS[prefix]
            lockouts.append(AddressLockout(address, kind, failures, targets, until))
    return sorted(lockouts, key=lambda lockout: lockout.until, reverse=True)


def _under_address_prefix():
    return or_(
        *[
            LoginFailure.key.startswith(prefix, autoescape=True)
            for prefix in ADDRESS_PREFIXES
        ]
    )


def clear_target(target_key: str) -> int:
    """Forget a target's failures (the caller commits); return how many."""
    return db.session.execute(
        delete(LoginFailure).where(LoginFailure.key == target_key)
    ).rowcount


def clear_address(address: str) -> int:
    """Forget every failure counted for a client address (the caller commits)."""
    network = client_network(address.strip())
    keys = [prefix + network for prefix in ADDRESS_PREFIXES] if network else []
    return db.session.execute(
        delete(LoginFailure).where(LoginFailure.key.in_(keys))
    ).rowcount
