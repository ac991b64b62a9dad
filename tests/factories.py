"""Test data made through the real services, so tests see what users would."""

import io
from datetime import datetime, timedelta

from flask import current_app
from PIL import Image

from vault.errors import AuthenticationFailed
from vault.extensions import db
from vault.models import Node, ShareLink, User
from vault.services import accounts, files, share_access, tokens, trash, tree
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


def _at_back_off_pace(last: datetime) -> list[datetime]:
    """The moments of the guesses that bring one account or link to the longest
    wait, each as soon as the back-off allows; the last one at `last`."""
    after = current_app.config["LOGIN_BACKOFF_AFTER"]
    longest = current_app.config["LOGIN_BACKOFF_MAX_SECONDS"]
    # waits[n - 1]: how long the n-th failure makes the next guess wait.
    waits = [0] * (after - 1)
    while not waits or waits[-1] < longest:
        waits.append(min(2 ** (len(waits) + 1 - after), longest))
    moment = last - timedelta(seconds=sum(waits[:-1]))
    moments = []
    for wait in waits:
        moments.append(moment)
        moment += timedelta(seconds=wait)
    return moments


def back_off_fully(email: str, address: str, last: datetime) -> None:
    """Guess an account's password until the wait after a failure is the longest."""
    for moment in _at_back_off_pace(last):
        try:
            accounts.authenticate(email, "a wrong guess", address, now=moment)
        except AuthenticationFailed:
            pass


def back_off_link(share_id: str, address: str, last: datetime) -> None:
    """Guess a link's password until the wait after a failure is the longest."""
    share = db.session.get(ShareLink, share_id)
    for moment in _at_back_off_pace(last):
        try:
            share_access.check_password(share, "a wrong guess", address, now=moment)
        except AuthenticationFailed:
            pass


def guess_many_accounts(address: str, count: int, now: datetime) -> None:
    """Fail one sign-in for each of `count` made-up emails from one address."""
    for number in range(count):
        try:
            accounts.authenticate(f"guess{number}@example.com", "x", address, now=now)
        except AuthenticationFailed:
            pass
