"""Sign-in lockouts as administrators see and lift them (pages and CLI).

Lifting one is audited and committed with the change, like every admin action.
"""

from datetime import datetime

from vault.errors import BadRequest
from vault.extensions import db
from vault.models import User, utcnow
from vault.services import audit, throttle


def account_backoff(user: User, now: datetime | None = None) -> throttle.Backoff:
    """Return the account's recent failed sign-ins and until when it must wait."""
    return throttle.backoff(throttle.account_key(user.email), now or utcnow())


def clear_account(actor: User | None, user: User) -> int:
    """Forget the account's failed sign-ins, ending its back-off; return how many."""
    failures = throttle.clear_target(throttle.account_key(user.email))
    audit.record(
        "sign_in.unlocked", actor=actor, target=user, before={"failures": failures}
    )
    db.session.commit()
    return failures


def address_lockouts(now: datetime | None = None) -> list[throttle.AddressLockout]:
    """Return every client address locked out now."""
    return throttle.address_lockouts(now or utcnow())


def clear_address(actor: User | None, address: str) -> int:
    """Lift every lockout of a client address; BadRequest if it is none."""
    address = (address or "").strip()
    network = throttle.client_network(address)
    if not network or len(network) > 64 or any(c.isspace() for c in network):
        raise BadRequest("Give a client address, such as 192.0.2.1.")
    failures = throttle.clear_address(address)
    audit.record(
        "sign_in.unlocked",
        actor=actor,
        target_label=network,
        before={"failures": failures},
    )
    db.session.commit()
    return failures
