"""How links look to their owner: the URL, relative times, log outcomes."""

from datetime import datetime

from vault.links import external_url
from vault.models import ShareLink
from vault.services import shares

# The outcomes services/share_access.py writes, in words; others show as they are.
OUTCOMES = {
    "view": "Opened",
    "download": "Downloaded",
    "zip": "Downloaded as zip",
    "incomplete": "Download stopped",
    "unlock": "Unlocked",
    "wrong_password": "Wrong password",
    "throttled": "Too many attempts",
    "gone": "Turned away",
    "upload": "Uploaded",
}
REFUSALS = {"wrong_password", "throttled", "gone"}


def share_url(share: ShareLink) -> str:
    """Return the full public URL of a link: the one place it is built."""
    return external_url("public.open", token=shares.share_token(share))


def relative_time(moment: datetime, now: datetime) -> str:
    """Say how far a moment is from now: "in 3 days", "2 hours ago"."""
    seconds = (moment - now).total_seconds()
    future, seconds = seconds > 0, abs(seconds)
    if seconds < 60:
        return "in under a minute" if future else "just now"
    count, unit = round(seconds / 60), "minute"
    if count >= 60:
        count, unit = round(seconds / 3600), "hour"
    if unit == "hour" and count >= 24:
        count, unit = round(seconds / 86400), "day"
    if unit == "day" and count >= 60:
        count, unit = round(count / 30), "month"
    if unit == "month" and count >= 24:
        count, unit = round(count / 12), "year"
    text = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"in {text}" if future else f"{text} ago"


def utc(moment: datetime) -> str:
    """Format a stored (naive UTC) time exactly, saying it is UTC."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def outcome_label(outcome: str) -> str:
    return OUTCOMES.get(outcome, outcome.replace("_", " ").capitalize())


def outcome_failed(outcome: str) -> bool:
    return outcome in REFUSALS
