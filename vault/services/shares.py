"""Share links: made by owners, opened by anyone holding the secret link."""

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import selectinload

from vault import security
from vault.errors import BadRequest, Conflict
from vault.extensions import db
from vault.models import ShareAccess, ShareLink, User, new_id, utcnow
from vault.services import audit, filetypes, share_downloads, tree
from vault.services.access import get_owned
from vault.text import has_control_characters

KINDS = ("download", "upload")
MAX_NOTE = 1000
MAX_PASSWORD = 1024
LOG_LIMIT = 500  # entries shown of one link's log
MAX_ALLOWED_TYPES = 50
PURGE_BATCH = 500  # ended links deleted per transaction
EXTENSION = re.compile(r"[a-z0-9]{1,16}")
UNCHANGED = object()
LINE_BREAKS_AND_TABS = str.maketrans("", "", "\r\n\t")
# The custom expiry in the browser has minute precision: a date picked at the
# very end of the allowed span must not be refused for the seconds in between.
EXPIRY_SLACK = timedelta(minutes=1)


def share_token(share: ShareLink) -> str:
    """Return the secret part of a link's URL.

    It is an HMAC of the link's random id under the app's secret key: the owner
    can be shown the link again at any time, yet the database holds only a hash
    of it, so a leaked database opens nothing. 256 bits; changing the secret key
    turns every link off.
    """
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"vault-share:{share.id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def create_share(
    user: User,
    node_id: str,
    *,
    expires_at: datetime,
    kind: str = "download",
    password: str | None = None,
    max_downloads: int | None = None,
    note: str | None = None,
    max_file_size: int | None = None,
    max_files: int | None = None,
    allowed_types: str | list[str] | None = None,
    now: datetime | None = None,
) -> ShareLink:
    """Make a link to one of the user's live files or folders.

    Raises NotFound for anyone else's item (or one in the trash), BadRequest for
    bad options. Download links take `max_downloads`; upload links, which go into
    a folder, take `max_file_size`, `max_files` and `allowed_types` (extensions).
    """
    now = now or utcnow()
    node = tree.get_node(user, node_id)
    if kind not in KINDS:
        raise BadRequest("A link is for downloading or for uploading.")
    if kind == "upload" and not node.is_folder:
        raise BadRequest("Upload links go into a folder, not a file.")
    share = ShareLink(
        id=new_id(), owner_id=user.id, node_id=node.id, kind=kind, created_at=now
    )
    share.token_hash = security.hash_token(share_token(share))
    _set_expiry(share, expires_at, now)
    _set_password(share, password)
    _set_limits(share, max_downloads, max_file_size, max_files)
    _set_allowed_types(share, allowed_types)
    share.note = _clean_note(note)
    share.node = node
    db.session.add(share)
    audit.record(
        "share.created",
        actor=user,
        target=share,
        after={
            "kind": share.kind,
            "expires_at": share.expires_at.isoformat(timespec="seconds"),
            "password": share.has_password,
        },
        now=now,
    )
    db.session.commit()
    return share


def naive_utc(moment: datetime) -> datetime:
    """Return a datetime as naive UTC, as stored; a naive one is taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def max_expiry(now: datetime) -> datetime:
    """Return the latest expiry a link made or changed at `now` may have."""
    return now + timedelta(days=current_app.config["SHARE_MAX_DAYS"])


def _set_expiry(share: ShareLink, expires_at: datetime | None, now: datetime) -> None:
    if not isinstance(expires_at, datetime):
        raise BadRequest("Choose when the link expires.")
    expires_at = naive_utc(expires_at)
    if expires_at <= now:
        raise BadRequest("Choose an expiry in the future.")
    if expires_at > max_expiry(now) + EXPIRY_SLACK:
        days = current_app.config["SHARE_MAX_DAYS"]
        raise BadRequest(f"A link can last at most {days} days.")
    share.expires_at = expires_at


def _set_password(share: ShareLink, password: str | None) -> None:
    """Set or (with None or "") remove the password; only its argon2 hash is kept."""
    if password is None or password == "":
        share.password_hash = None
        return
    if not isinstance(password, str):
        raise BadRequest("The password must be text.")
    if len(password) > MAX_PASSWORD:
        raise BadRequest(f"Keep the password under {MAX_PASSWORD} characters.")
    share.password_hash = security.hash_password(password)


def _set_limits(share: ShareLink, max_downloads, max_file_size, max_files) -> None:
    """Set the limits that fit the link's kind; the others must stay empty."""
    if share.is_upload:
        if max_downloads not in (None, UNCHANGED):
            raise BadRequest(
                "Upload links have no download limit: use “max_files” instead."
            )
        if max_file_size is not UNCHANGED:
            share.max_file_size = _positive_or_none(max_file_size, "max_file_size")
        if max_files is not UNCHANGED:
            share.max_files = _positive_or_none(max_files, "max_files")
        return
    for value, field in ((max_file_size, "max_file_size"), (max_files, "max_files")):
        if value not in (None, UNCHANGED):
            raise BadRequest(f"“{field}” applies only to upload links.")
    if max_downloads is not UNCHANGED:
        share.max_downloads = _positive_or_none(max_downloads, "max_downloads")


def _set_allowed_types(share: ShareLink, allowed_types) -> None:
    """Set the extensions an upload link accepts ("pdf, jpg" or a list; None: any)."""
    if allowed_types is UNCHANGED:
        return
    extensions = _extension_list(allowed_types)
    if extensions and not share.is_upload:
        raise BadRequest("“allowed_types” applies only to upload links.")
    share.allowed_types = " ".join(sorted(extensions)) or None


def _extension_list(value) -> frozenset[str]:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        extensions = [item.strip().lower().lstrip(".") for item in value]
    elif value is None or isinstance(value, str):
        extensions = filetypes.parse_extensions(value)
    else:
        raise BadRequest("“allowed_types” must be a list of file extensions.")
    if len(extensions) > MAX_ALLOWED_TYPES or not all(
        EXTENSION.fullmatch(extension) for extension in extensions
    ):
        raise BadRequest(
            "List at most 50 file extensions, like “pdf, jpg, docx”: letters and "
            "digits only."
        )
    return frozenset(extensions)


def _positive_or_none(value, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(f"“{field}” must be a whole number of at least 1.")
    # What the columns hold: INTEGER counts, a BIGINT size.
    if value > (2**63 - 1 if field == "max_file_size" else 2**31 - 1):
        raise BadRequest(f"“{field}” is too large.")
    return value


def _clean_note(note: str | None) -> str | None:
    if note is not None and not isinstance(note, str):
        raise BadRequest("The note must be text.")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise BadRequest(f"Keep the note under {MAX_NOTE} characters.")
    # Line breaks are welcome in a note; other control characters are not, and
    # PostgreSQL refuses NUL outright.
    if has_control_characters(note.translate(LINE_BREAKS_AND_TABS)):
        raise BadRequest("The note contains characters that are not allowed.")
    return note or None


def get_share(user: User, share_id: str) -> ShareLink:
    """Return one of the user's links; anyone else's is NotFound, like a missing one."""
    return get_owned(ShareLink, share_id, user, "link")


def list_shares(user: User) -> list[ShareLink]:
    """Return the user's links, newest first, with their items loaded."""
    return list(
        db.session.scalars(
            select(ShareLink)
            .where(ShareLink.owner_id == user.id)
            .options(selectinload(ShareLink.node))
            .order_by(ShareLink.created_at.desc(), ShareLink.id)
        )
    )


def update_share(
    user: User,
    share_id: str,
    *,
    expires_at=UNCHANGED,
    password=UNCHANGED,
    max_downloads=UNCHANGED,
    max_file_size=UNCHANGED,
    max_files=UNCHANGED,
    allowed_types=UNCHANGED,
    note=UNCHANGED,
    now: datetime | None = None,
) -> ShareLink:
    """Change a link's expiry, password, limits, allowed types or note, all or none.

    A new expiry counts from `now`, so it also brings an expired link back.
    Raises Conflict for a revoked link (revoking is for good), BadRequest for bad
    values.
    """
    share = get_share(user, share_id)
    now = now or utcnow()
    if share.revoked_at is not None:
        raise Conflict("This link was revoked and cannot be changed. Make a new one.")
    try:
        if expires_at is not UNCHANGED:
            _set_expiry(share, expires_at, now)
        if password is not UNCHANGED:
            _set_password(share, password)
        _set_limits(share, max_downloads, max_file_size, max_files)
        _set_allowed_types(share, allowed_types)
        if note is not UNCHANGED:
            share.note = _clean_note(note)
    except BadRequest:
        db.session.rollback()
        raise
    db.session.commit()
    return share


def revoke_share(user: User, share_id: str, now: datetime | None = None) -> ShareLink:
    """Turn a link off for good; the row stays, so the link answers 410 and the log
    remains. Revoking twice changes nothing."""
    share = get_share(user, share_id)
    if share.revoked_at is None:
        share.revoked_at = now or utcnow()
        audit.record(
            "share.revoked",
            actor=user,
            target=share,
            before={"revoked": False},
            after={"revoked": True},
            now=share.revoked_at,
        )
        db.session.commit()
    return share


def status(share: ShareLink, now: datetime | None = None) -> str:
    """Tell whether a link works: active, expired, revoked, exhausted or gone."""
    now = now or utcnow()
    if share.revoked_at is not None:
        return "revoked"
    if share.node is None or share.node.trashed_at is not None or share.owner.disabled:
        return "gone"
    if share.expires_at <= now:
        return "expired"
    if _used_up(share):
        return "exhausted"
    return "active"


def usage(share: ShareLink) -> tuple[int | float, int | None]:
    """Return (used, limit): files uploaded for an upload link, else downloads
    (to a hundredth: pieces of a file count as parts of a download)."""
    if share.is_upload:
        return share.upload_count, share.max_files
    return share_downloads.downloads_used(share), share.max_downloads


def _used_up(share: ShareLink) -> bool:
    if share.is_upload:
        return share.max_files is not None and share.upload_count >= share.max_files
    return share_downloads.used_up(share)


def access_log(user: User, share_id: str, limit: int = LOG_LIMIT) -> list[ShareAccess]:
    """Return the newest visits of one of the user's links."""
    share = get_share(user, share_id)
    return list(
        db.session.scalars(
            select(ShareAccess)
            .where(ShareAccess.share_id == share.id)
            .order_by(ShareAccess.at.desc(), ShareAccess.id.desc())
            .limit(limit)
        )
    )


def purge_ended(now: datetime | None = None) -> int:
    """Delete links that expired or were revoked over VAULT_ENDED_LINK_DAYS ago.

    Their visit log goes with them (the foreign key cascades). Until then the
    owner still sees them, and may give an expired one a new expiry: the
    condition is checked again as each batch is deleted, so a link extended
    meanwhile stays. A sweep: commits each batch.
    """
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["ENDED_LINK_DAYS"])
    ended = or_(ShareLink.expires_at < cutoff, ShareLink.revoked_at < cutoff)
    purged = 0
    while ids := db.session.scalars(
        select(ShareLink.id).where(ended).order_by(ShareLink.id).limit(PURGE_BATCH)
    ).all():
        purged += db.session.execute(
            delete(ShareLink)
            .where(ShareLink.id.in_(ids), ended)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
    return purged
