"""Files: names, type checks, storing uploads, listing, deleting."""

import base64
import binascii
import unicodedata
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, or_, select, update

from vault.errors import (
    BadRequest,
    ContentMismatch,
    FileTypeNotAllowed,
    InvalidName,
    QuotaExceeded,
)
from vault.extensions import db
from vault.models import File, User, utcnow
from vault.services import filetypes
from vault.services.ownership import get_owned
from vault.storage import BlobWriter, get_storage
from vault.text import is_object_id
from vault.units import format_size

MAX_NAME_BYTES = 255
# Explicit direction marks and overrides: they let "evil‮gpj.exe" pose as a JPEG.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_DROPPED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def clean_display_name(raw: str) -> str:
    """Return a name fit for display; raise InvalidName if nothing is left.

    NFC-normalized, without path separators, control or bidi-override characters,
    at most 255 bytes of UTF-8 (the extension is kept when shortening). Unlike
    `secure_filename`, every other character, ASCII or not, is kept.
    """
    kept = "".join(
        char
        for char in raw or ""
        if char not in "/\\"
        and char not in _BIDI_CONTROLS
        and unicodedata.category(char) not in _DROPPED_CATEGORIES
    )
    # Normalize after filtering: a dropped character may have separated a letter
    # from its combining accent.
    name = unicodedata.normalize("NFC", kept).strip()
    if name in ("", ".", ".."):
        raise InvalidName("A file name cannot be empty.")
    return _shorten(name)


def _shorten(name: str) -> str:
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    extension = filetypes.extension_of(name)
    suffix = f".{extension}" if extension and len(extension) <= 16 else ""
    room = MAX_NAME_BYTES - len(suffix.encode())
    stem = name[: len(name) - len(suffix)].encode()[:room].decode(errors="ignore")
    return stem.rstrip() + suffix


def allowed_extensions() -> frozenset[str]:
    configured = current_app.config["ALLOWED_EXTENSIONS"]
    if isinstance(configured, str):
        configured = configured.replace(",", " ").split()
    return frozenset(extension.lower().lstrip(".") for extension in configured)


def check_name_allowed(name: str) -> str:
    """Return the cleaned name, or raise if its extension is not allowed."""
    name = clean_display_name(name)
    extension = filetypes.extension_of(name)
    if not extension:
        raise FileTypeNotAllowed(
            f"“{name}” was refused: files without an extension are not allowed."
        )
    if extension not in allowed_extensions():
        raise FileTypeNotAllowed(
            f"“{name}” was refused: .{extension} files are not allowed."
        )
    return name


def _checked_upload(raw_name: str, writer: BlobWriter) -> str:
    name = check_name_allowed(raw_name)
    extension = filetypes.extension_of(name)
    if not filetypes.content_matches(extension, writer.head):
        raise ContentMismatch(
            f"“{name}” was refused: its content is not a valid "
            f"{extension.upper()} file."
        )
    return name


def store_uploads(
    user: User, uploads: list[tuple[str, BlobWriter]], now: datetime | None = None
) -> list[File]:
    """Turn received uploads into files, all or none.

    Raises InvalidName, FileTypeNotAllowed, ContentMismatch or QuotaExceeded; the
    caller discards the writers on error (blobs committed here are removed here).
    """
    if not uploads:
        raise BadRequest("Choose at least one file to upload.")
    named = [(_checked_upload(raw, writer), writer) for raw, writer in uploads]
    now = now or utcnow()
    # Blob first, row second: a crash in between leaves an orphan blob for fsck,
    # never a row pointing at missing bytes.
    for _, writer in named:
        writer.commit()
    try:
        _charge(user, sum(writer.size for _, writer in named))
        files = [_new_file(user, name, writer, now) for name, writer in named]
        db.session.add_all(files)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for _, writer in named:
            get_storage().delete(writer.key)
        raise
    return files


def _new_file(user: User, name: str, writer: BlobWriter, now: datetime) -> File:
    return File(
        owner_id=user.id,
        name=name,
        size=writer.size,
        sha256=writer.sha256,
        content_type=filetypes.content_type_for(name),
        storage_key=writer.key,
        created_at=now,
    )


def _charge(user: User, size: int) -> None:
    # One conditional UPDATE: concurrent uploads cannot together pass the quota.
    result = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.quota_bytes.is_(None), User.used_bytes + size <= User.quota_bytes),
        )
        .values(used_bytes=User.used_bytes + size)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(user)
        free = max(0, (user.quota_bytes or 0) - user.used_bytes)
        raise QuotaExceeded(
            f"This upload needs {format_size(size)} but you have "
            f"{format_size(free)} free of {format_size(user.quota_bytes)}."
        )


def get_file(user: User, file_id: str) -> File:
    """Return the user's file; anyone else's file is NotFound, like a missing one."""
    return get_owned(File, file_id, user, "file")


def list_files(
    user: User, limit: int = 100, cursor: str | None = None
) -> tuple[list[File], str | None]:
    """Return a page of the user's files, newest first, and the next page's cursor."""
    query = select(File).where(File.owner_id == user.id)
    if cursor:
        created_at, file_id = _decode_cursor(cursor)
        query = query.where(
            or_(
                File.created_at < created_at,
                and_(File.created_at == created_at, File.id < file_id),
            )
        )
    query = query.order_by(File.created_at.desc(), File.id.desc()).limit(limit + 1)
    files = list(db.session.scalars(query))
    if len(files) <= limit:
        return files, None
    last = files[limit - 1]
    return files[:limit], _encode_cursor(last)


def _encode_cursor(file: File) -> str:
    raw = f"{file.created_at.isoformat()}|{file.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, file_id = raw.split("|")
        if not is_object_id(file_id):
            raise ValueError(file_id)
        return datetime.fromisoformat(created_at), file_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise BadRequest("That cursor is not valid.") from error


def delete_file(user: User, file_id: str) -> None:
    """Delete one of the user's files for good."""
    file = get_file(user, file_id)
    key, size = file.storage_key, file.size
    # Row first, blob second: a crash in between leaves an orphan blob, not a
    # row pointing at nothing.
    db.session.delete(file)
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(used_bytes=User.used_bytes - size)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    get_storage().delete(key)
