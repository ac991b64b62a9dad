"""What visitors of a share link can do: open it, unlock it, download, upload.

Every access is written to the link's log with one of these outcomes: "view"
(a page), "download", "zip" (each from its first byte: a resumed download or a
video seek is charged to the limit, see share_downloads.py, but not logged),
"incomplete" (a download that stopped early; what it did not send was given
back), "unlock", "wrong_password", "throttled" (too many wrong passwords),
"gone" (the link no longer works), "upload" (one row per file, see
share_uploads.py).
"""

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from vault import metrics, security
from vault.errors import AuthenticationFailed, Gone, NotFound, TooManyAttempts
from vault.extensions import db
from vault.models import Node, ShareAccess, ShareLink, utcnow
from vault.services import archives, share_downloads, throttle, tree
from vault.services.archives import Entry
from vault.services.shares import status

# Why a link stopped working, in words that never name what it shared.
GONE_MESSAGES = {
    "expired": "This link has expired.",
    "revoked": "The owner turned this link off.",
    "gone": "What this link shared is no longer available.",
    "exhausted": "This link has reached its download limit.",
    "exhausted-upload": "This link has received all the files it accepts.",
}


class PasswordRequired(AuthenticationFailed):
    code = "password_required"
    message = "This link is protected by a password."


@dataclass(frozen=True)
class Visitor:
    """Who is at the door, as far as the log and the throttle need to know."""

    address: str | None
    user_agent: str = ""


def active_link(
    token: str, visitor: Visitor | None = None, now: datetime | None = None
) -> ShareLink:
    """Return the active link for a token.

    NotFound for a token that never existed; Gone (410) for one that is expired,
    revoked, used up, or whose item is in the trash or whose owner is disabled.
    An address that keeps trying unknown tokens gets TooManyAttempts for every
    token, so that guessing cannot tell a hit from a miss.
    """
    now = now or utcnow()
    misses = throttle.share_token_keys(token, visitor.address if visitor else None)
    throttle.check(misses, now, what="link")
    share = None
    if token and len(token) <= 64 and token.isascii():
        share = db.session.scalar(
            select(ShareLink).where(ShareLink.token_hash == security.hash_token(token))
        )
    if share is None:
        throttle.record(misses, now)
        db.session.commit()
        raise NotFound("There is no such link. Check that you copied all of it.")
    state = status(share, now)
    if state != "active":
        if visitor is not None:
            log_access(share, "gone", visitor, now=now)
        if state == "exhausted" and share.is_upload:
            state = "exhausted-upload"
        raise Gone(GONE_MESSAGES[state])
    return share


def unlock_stamp(share: ShareLink) -> str:
    """Return a fingerprint of the link's password, kept by a visitor who unlocked it.

    A new password makes old unlocks stale. The argon2 hash is salted, so this
    short digest of it tells nothing about the password.
    """
    return hashlib.sha256((share.password_hash or "").encode()).hexdigest()[:16]


def check_password(
    share: ShareLink, password: str, client_address: str | None, now=None
) -> None:
    """Accept the link's password or raise; failures are throttled like sign-ins:
    a back-off per link, a lockout per address only for many links.
    """
    try:
        _check_password(share, password, client_address, now or utcnow())
    except AuthenticationFailed:
        db.session.commit()  # the failure counts, whatever the caller does next
        raise
    db.session.commit()


def _check_password(
    share: ShareLink, password: str, client_address: str | None, now: datetime
) -> None:
    # The guess is counted at once (throttle.admit); the caller commits the
    # outcome, also when this raises.
    keys = throttle.share_password_keys(share.id, client_address)
    attempt = throttle.admit(keys, now, what="password")
    if share.password_hash and security.verify_password(
        share.password_hash, password or ""
    ):
        throttle.release(attempt)
        return
    throttle.fail(attempt)
    raise AuthenticationFailed("That password is not right.")


def unlock(
    share: ShareLink, password: str, visitor: Visitor, now: datetime | None = None
) -> str:
    """Check the password and log the attempt; return the stamp to remember.

    Raises AuthenticationFailed, or TooManyAttempts while the link or the
    address is locked out; the attempt is logged (and counted) either way.
    """
    now = now or utcnow()
    try:
        _check_password(share, password, visitor.address, now)
    except TooManyAttempts:
        log_access(share, "throttled", visitor, now=now)
        raise
    except AuthenticationFailed:
        log_access(share, "wrong_password", visitor, now=now)
        raise
    log_access(share, "unlock", visitor, now=now)
    return unlock_stamp(share)


def crumbs(share: ShareLink, folder: Node) -> list[Node]:
    """Return the folders from the shared one down to `folder`, never above it."""
    chain = tree.ancestors(folder)
    top = next(i for i, node in enumerate(chain) if node.id == share.node_id)
    return chain[top:]


def zip_entries(share: ShareLink, folder_id: str) -> tuple[str, list[Entry]]:
    """Return the name and the entries of a zip of a folder inside the link.

    NotFound for a file, or for anything the link does not reach.
    """
    nodes, entries = archives.entries_for(share, [folder_id])
    if not nodes[0].is_folder:
        raise NotFound("No such folder.")
    return archives.archive_name(nodes, None), entries


@dataclass(frozen=True)
class Span:
    """The bytes [start, stop) of an item of `size` bytes that a response sends."""

    start: int
    stop: int
    size: int


def start_download(
    share: ShareLink, span: Span, visitor: Visitor, outcome: str, detail: str | None
) -> None:
    """Charge a response's bytes to the link (Gone if they pass its limit); log
    a download from the first byte (not every resume or video seek)."""
    units = share_downloads.cost(span.start, span.stop, span.size)
    share_downloads.claim(share, units, span.size)
    if span.start == 0:
        add_to_log(share, outcome, visitor, detail)
    db.session.commit()
    metrics.share_download()


def stop_download(
    share_id: str, span: Span, sent: int, visitor: Visitor, detail: str | None
) -> None:
    """Give back the charge of the bytes a response did not send, if any, and
    log a download from the first byte that stopped early."""
    units = share_downloads.unsent(span.start, span.stop, span.size, sent)
    if not units:
        return
    share_downloads.give_back(share_id, units)
    share = db.session.get(ShareLink, share_id)
    if span.start == 0 and share is not None:
        add_to_log(share, "incomplete", visitor, detail)
    db.session.commit()


def sent_by_vault(share: ShareLink) -> bool:
    """Tell whether a link's bytes must go out through vault, never handed to a
    proxy: a limited link gives back what did not leave, which a proxy would
    not say."""
    return share.max_downloads is not None


def blurred_address(address: str | None) -> str:
    """Return the /24 (IPv4) or /48 (IPv6) network of an address, for the log."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return ""
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def log_access(
    share: ShareLink,
    outcome: str,
    visitor: Visitor | None = None,
    detail: str | None = None,
    now: datetime | None = None,
) -> None:
    """Write one line of the link's access log, with a blurred address; commit.

    A use case of its own (a page view), and the last step of those that call
    it; inside a larger one, `add_to_log` adds the line to its transaction.
    """
    add_to_log(share, outcome, visitor, detail, now)
    db.session.commit()


def add_to_log(
    share: ShareLink,
    outcome: str,
    visitor: Visitor | None = None,
    detail: str | None = None,
    now: datetime | None = None,
) -> None:
    """Add a line of the link's access log to the caller's transaction."""
    visitor = visitor or Visitor(None)
    db.session.add(
        ShareAccess(
            share_id=share.id,
            at=now or utcnow(),
            outcome=outcome,
            address=blurred_address(visitor.address),
            user_agent=(visitor.user_agent or "")[:255],
            detail=(detail or None) and detail[:255],
        )
    )
