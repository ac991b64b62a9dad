"""The audit log: administrative actions and security events, kept in the database.

`record` adds an event to the current transaction and never commits: the event
lands with the change it describes, or not at all. `list_events` reads the log
for the admin pages (through services/admin.py).
"""

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from vault.errors import BadRequest
from vault.extensions import db
from vault.models import ApiToken, AuditEvent, ShareLink, User, utcnow

# Every action the log knows, with the words the audit page shows for it.
ACTIONS = {
    "sign_in.failed": "Sign-in failed",
    "sign_in.locked": "Sign-in slowed down or locked out",
    "sign_in.refused": "Sign-in refused",
    "sign_in.unlocked": "Sign-in lockout cleared",
    "password.changed": "Password changed",
    "password.reset_issued": "Password reset link made",
    "password.reset_used": "Password reset by link",
    "password.reset_mailed": "Password reset link mailed",
    "token.created": "API token created",
    "token.revoked": "API token revoked",
    "share.created": "Share link created",
    "share.revoked": "Share link revoked",
    "user.created": "User created",
    "user.invited": "User invited by email",
    "user.email_changed": "Email changed",
    "user.quota_changed": "Quota changed",
    "user.disabled": "User disabled",
    "user.enabled": "User enabled",
    "user.promoted": "Made administrator",
    "user.demoted": "Administrator role removed",
    "user.deleted": "User deleted",
}
COMMAND_LINE = "command line"
# Events made by someone not signed in: their actor is nobody we know, not the
# command line.
VISITOR_ACTIONS = {
    "sign_in.failed",
    "sign_in.locked",
    "sign_in.refused",
    # Asked for on the sign-in page by someone not signed in.
    "password.reset_mailed",
}
VISITOR = "visitor"

Target = User | ShareLink | ApiToken


def record(
    action: str,
    *,
    actor: User | None = None,
    target: Target | None = None,
    target_label: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    address: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Add an event to the session; `actor` None is the command line, or the
    anonymous visitor for sign-in events."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action: {action}")
    target_type, target_id, label = _describe(target)
    event = AuditEvent(
        at=now or utcnow(),
        actor_id=actor.id if actor else None,
        actor=actor.email if actor else _nobody(action),
        action=action,
        target_type=target_type,
        target_id=target_id,
        target=(target_label if target_label is not None else label)[:255],
        before=before,
        after=after,
        address=(address or "")[:64],
    )
    db.session.add(event)
    return event


def _nobody(action: str) -> str:
    return VISITOR if action in VISITOR_ACTIONS else COMMAND_LINE


def _describe(target: Target | None) -> tuple[str | None, str | None, str]:
    if isinstance(target, User):
        return "user", target.id, target.email
    if isinstance(target, ShareLink):
        name = target.node.name if target.node is not None else "a deleted item"
        return "share", target.id, name
    if isinstance(target, ApiToken):
        return "token", target.id, target.name
    return None, None, ""


@dataclass
class EventPage:
    events: list[AuditEvent]
    page: int
    pages: int
    total: int


def page_numbers(total: int, page: int, per_page: int) -> tuple[int, int]:
    """Return (page, pages); a page beyond the end is the last one."""
    pages = max(1, math.ceil(total / per_page))
    return min(max(1, page), pages), pages


def _action_filter(action: str):
    if not action:
        return None
    if action.endswith("."):
        if not any(name.startswith(action) for name in ACTIONS):
            raise BadRequest("No such kind of event.")
        return AuditEvent.action.startswith(action, autoescape=True)
    if action not in ACTIONS:
        raise BadRequest("No such kind of event.")
    return AuditEvent.action == action


def list_events(
    action: str = "", query: str = "", page: int = 1, per_page: int = 100
) -> EventPage:
    """Return one page of the audit log, newest first.

    `action` is an action name, or a prefix ending in "." such as "user.";
    `query` matches part of the actor or the target, ignoring case. Raises
    BadRequest for an unknown action.
    """
    per_page = max(1, per_page)
    where = []
    by_action = _action_filter(action)
    if by_action is not None:
        where.append(by_action)
    if query.strip():
        needle = query.strip().lower()
        where.append(
            func.lower(AuditEvent.actor).contains(needle, autoescape=True)
            | func.lower(AuditEvent.target).contains(needle, autoescape=True)
        )
    total = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(*where)
    )
    page, pages = page_numbers(total, page, per_page)
    events = db.session.scalars(
        select(AuditEvent)
        .where(*where)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return EventPage(events=list(events), page=page, pages=pages, total=total)
