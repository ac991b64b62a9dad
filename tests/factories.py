"""Test data made through the real services, so tests see what users would."""

import io
from datetime import datetime

from PIL import Image

from vault.extensions import db
from vault.models import Node, User
from vault.services import accounts, files, tokens, trash, tree
from vault.storage import get_storage

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
    b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
EXIF_ORIENTATION = 0x0112


def image_bytes(
    image_format: str = "PNG", size=(4, 4), orientation: int | None = None
) -> bytes:
    """Return a real, decodable image made with Pillow (PNG above is only a header)."""
    buffer = io.BytesIO()
    options = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        options["exif"] = exif
    Image.new("RGB", size, "teal").save(buffer, image_format, **options)
    return buffer.getvalue()


def create_user(email: str, password: str, **options) -> User:
    user = accounts.create_user(email, password, **options)
    return _detached(user)


def create_token(user: User, name: str = "test") -> str:
    _, secret = tokens.create_token(db.session.get(User, user.id), name)
    return secret


def store_file(
    user: User,
    name: str,
    content: bytes,
    *,
    folder_id: str | None = None,
    now: datetime | None = None,
) -> Node:
    owner = db.session.get(User, user.id)
    writer = get_storage().new_writer(owner.id)
    writer.write(content)
    try:
        [file] = files.store_uploads(
            owner,
            [(name, writer)],
            folder=tree.get_folder(owner, folder_id),
            now=now,
        )
    finally:
        writer.discard()
    return _detached(file)


def create_folder(
    user: User, name: str, parent_id: str | None = None, now: datetime | None = None
) -> Node:
    owner = db.session.get(User, user.id)
    folder = tree.create_folder(owner, name, tree.get_folder(owner, parent_id), now)
    return _detached(folder)


def trash_node(user: User, node_id: str, now: datetime | None = None) -> Node:
    trash.trash(db.session.get(User, user.id), [node_id], now)
    return _detached(db.session.get(Node, node_id))


def _detached(row):
    """Load every column, then detach, so tests can read it outside the app context."""
    db.session.refresh(row)
    db.session.expunge(row)
    return row
