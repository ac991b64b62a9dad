"""Share links in the API: the owner's side (the links themselves live under /s)."""

from datetime import datetime, timedelta

from flask import g

from vault.api.blueprint import bp, json_body, timestamp
from vault.errors import BadRequest
from vault.models import ShareLink, utcnow
from vault.services import files, share_downloads, shares, tree
from vault.shares.display import share_url
from vault.units import parse_size

OPTIONS = (
    "password",
    "max_downloads",
    "note",
    "max_file_size",
    "max_files",
    "allowed_types",
)
CREATE_FIELDS = {"file_id", "folder_id", "kind", "expires_in", "expires_at", *OPTIONS}
UPDATE_FIELDS = CREATE_FIELDS - {"file_id", "folder_id", "kind"}


def share_json(share: ShareLink, now: datetime) -> dict:
    node = share.node
    return {
        "id": share.id,
        "url": share_url(share),
        "kind": share.kind,
        "status": shares.status(share, now),
        "item": _item_json(node) if node else None,
        "note": share.note,
        "has_password": share.has_password,
        "created_at": timestamp(share.created_at),
        "expires_at": timestamp(share.expires_at),
        "revoked_at": timestamp(share.revoked_at),
        "max_downloads": share.max_downloads,
        "download_count": share_downloads.downloads_used(share),
        "max_file_size": share.max_file_size,
        "max_files": share.max_files,
        "upload_count": share.upload_count,
        "allowed_types": share.allowed_types.split() if share.allowed_types else None,
    }


def _item_json(node) -> dict:
    return {
        "id": node.id,
        "name": node.name,
        "type": "folder" if node.is_folder else "file",
        "in_trash": node.trashed_at is not None,
    }


@bp.post("/shares")
def create_share():
    body = _checked(json_body(), CREATE_FIELDS)
    node = _shared_item(body)
    now = utcnow()
    expires_at = _expiry(body, now)
    if expires_at is None:
        raise BadRequest(
            "Say when the link expires: “expires_in” (seconds) or “expires_at” "
            "(ISO 8601)."
        )
    share = shares.create_share(
        g.api_user,
        node.id,
        kind=_text(body, "kind") or "download",
        expires_at=expires_at,
        now=now,
        **_options(body),
    )
    return share_json(share, now), 201


@bp.get("/shares")
def list_shares():
    now = utcnow()
    links = shares.list_shares(g.api_user)
    return {"shares": [share_json(share, now) for share in links]}


@bp.get("/shares/<share_id>")
def get_share(share_id):
    return share_json(shares.get_share(g.api_user, share_id), utcnow())


@bp.patch("/shares/<share_id>")
def update_share(share_id):
    shares.get_share(g.api_user, share_id)  # someone else's: 404 before any 400
    body = _checked(json_body(), UPDATE_FIELDS)
    now = utcnow()
    changes = _options(body)
    expires_at = _expiry(body, now)
    if expires_at is not None:
        changes["expires_at"] = expires_at
    share = shares.update_share(g.api_user, share_id, now=now, **changes)
    return share_json(share, now)


@bp.delete("/shares/<share_id>")
def revoke_share(share_id):
    shares.revoke_share(g.api_user, share_id)
    return "", 204


@bp.get("/shares/<share_id>/log")
def share_log(share_id):
    return {
        "entries": [
            {
                "at": timestamp(entry.at),
                "outcome": entry.outcome,
                "network": entry.address,
                "user_agent": entry.user_agent,
                "detail": entry.detail,
            }
            for entry in shares.access_log(g.api_user, share_id)
        ]
    }


def _checked(body: dict, allowed: set[str]) -> dict:
    # A misspelt option must not be dropped silently: the link would be made
    # without the limit or password its owner asked for.
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"Unknown field “{unknown[0]}”.")
    return body


def _shared_item(body: dict):
    """Load the file or folder named by exactly one of file_id and folder_id."""
    if ("file_id" in body) == ("folder_id" in body):
        raise BadRequest("Give either “file_id” or “folder_id”.")
    if "file_id" in body:
        return files.get_file(g.api_user, _id(body, "file_id"))
    return tree.get_folder(g.api_user, _id(body, "folder_id"))


def _id(body: dict, key: str) -> str:
    value = body[key]
    if not isinstance(value, str) or not value:
        raise BadRequest(f"“{key}” must be an id.")
    return value


def _text(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"“{key}” must be a string.")
    return value


def _expiry(body: dict, now: datetime) -> datetime | None:
    """Read expires_in (seconds from now) or expires_at (ISO 8601); None if neither."""
    if "expires_in" in body and "expires_at" in body:
        raise BadRequest("Give either “expires_in” or “expires_at”, not both.")
    if "expires_in" in body:
        seconds = body["expires_in"]
        if seconds is None:
            raise BadRequest("A link must have an expiry.")
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise BadRequest("“expires_in” must be a whole number of seconds.")
        if seconds < 1:
            raise BadRequest("Choose an expiry in the future.")
        if seconds > 10**9:
            raise BadRequest("“expires_in” is too far in the future.")
        return now + timedelta(seconds=seconds)
    if "expires_at" in body:
        text = body["expires_at"]
        if text is None:
            raise BadRequest("A link must have an expiry.")
        if isinstance(text, str):
            try:
                # Python 3.11 reads "Z" and offsets; a time without either is UTC.
                return datetime.fromisoformat(text)
            except ValueError:
                pass
        raise BadRequest(
            "“expires_at” must be an ISO 8601 time such as 2030-01-31T12:00:00Z."
        )
    return None


def _options(body: dict) -> dict:
    """Return the optional settings present in the body (null clears one)."""
    options = {key: body[key] for key in OPTIONS if key in body}
    for key in ("password", "note"):
        if key in options:
            _text(options, key)
    if isinstance(options.get("max_file_size"), str):
        try:
            options["max_file_size"] = parse_size(options["max_file_size"])
        except ValueError as error:
            raise BadRequest(
                "“max_file_size” must be a number of bytes or a size like “100 MB”."
            ) from error
    return options
