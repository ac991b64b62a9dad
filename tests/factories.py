"""Test data made through the real services, so tests see what users would."""

from vault.extensions import db
from vault.models import File, User
from vault.services import accounts, files, tokens
from vault.storage import get_storage

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
    b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def create_user(email: str, password: str, **options) -> User:
    user = accounts.create_user(email, password, **options)
    return _detached(user)


def create_token(user: User, name: str = "test") -> str:
    _, secret = tokens.create_token(db.session.get(User, user.id), name)
    return secret


def store_file(user: User, name: str, content: bytes) -> File:
    owner = db.session.get(User, user.id)
    writer = get_storage().new_writer(owner.id)
    writer.write(content)
    try:
        [file] = files.store_uploads(owner, [(name, writer)])
    finally:
        writer.discard()
    return _detached(file)


def _detached(row):
    """Load every column, then detach, so tests can read it outside the app context."""
    db.session.refresh(row)
    db.session.expunge(row)
    return row
