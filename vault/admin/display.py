"""How the admin pages show quotas and the changes an audit event records."""

from dataclasses import dataclass
from datetime import datetime

from vault.shares.forms import exact_size
from vault.units import format_size


def quota_text(quota_bytes: int | None) -> str:
    """Write a quota so that it reads back the same: "10 GB", "unlimited"."""
    if quota_bytes is None:
        return "unlimited"
    return exact_size(quota_bytes) if quota_bytes else "0"


@dataclass(frozen=True)
class Change:
    """One value an event changed; a side the event did not record is None."""

    name: str
    before: str | None
    after: str | None


def changes(before: dict | None, after: dict | None) -> list[Change]:
    """Pair an event's before and after values by key, in words."""
    before, after = before or {}, after or {}
    keys = dict.fromkeys([*before, *after])
    return [
        Change(
            key.removesuffix("_bytes").replace("_", " "),
            _value(key, before[key]) if key in before else None,
            _value(key, after[key]) if key in after else None,
        )
        for key in keys
    ]


def _value(key: str, value) -> str:
    if key.endswith("_bytes") and (value is None or isinstance(value, int)):
        return format_size(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if key.endswith("_at") and isinstance(value, str):
        return value.replace("T", " ") + " UTC"
    return str(value)


def utc(moment: datetime) -> str:
    """Format a stored (naive UTC) time to the second, saying it is UTC."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
