"""Storing one whole body as a file (for PUT-style front ends), called directly."""

import hashlib
import io

import pytest
from sqlalchemy import func, select

from tests.factories import PNG
from tests.helpers import assert_nothing_stored, blobs, set_quota
from vault.errors import (
    Conflict,
    ContentMismatch,
    FileTypeNotAllowed,
    InvalidName,
    QuotaExceeded,
)
from vault.extensions import db
from vault.models import Node, Reservation, User
from vault.services import tree, uploads

pytestmark = pytest.mark.bytes

MiB = 1024 * 1024


class Body(io.RawIOBase):
    """`size` bytes of "x", or an error once `fail_after` of them were read."""

    def __init__(self, size: int, fail_after: int | None = None):
        self.size, self.position, self.fail_after = size, 0, fail_after

    def read(self, size: int = -1) -> bytes:
        if self.fail_after is not None and self.position >= self.fail_after:
            raise OSError("the connection was reset")
        count = max(0, min(size, self.size - self.position))
        self.position += count
        return b"x" * count


def store(app, user, body, length, name="notes.txt", folder=None, **options):
    with app.app_context():
        owner = db.session.get(User, user.id)
        target = tree.get_folder(owner, folder.id) if folder else None
        file = uploads.store_body(
            owner, body, length, folder=target, name=name, **options
        )
        return file.id, file.parent_id, file.name, file.size, file.sha256


def assert_no_reservation(app):
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Reservation)) == 0
        assert all(
            user.reserved_bytes == 0 for user in db.session.scalars(select(User))
        )


@pytest.mark.parametrize("announced", [True, False], ids=["length", "no-length"])
def test_a_body_becomes_a_file_in_the_folder(app, alice, make_folder, announced):
    folder = make_folder(alice, "Docs")
    set_quota(app, alice, 10 * MiB)
    size = 3 * MiB + 5  # more than one read

    _, parent_id, name, stored_size, sha256 = store(
        app, alice, Body(size), size if announced else None, "Ünïcode.txt", folder
    )

    assert (parent_id, name, stored_size) == (folder.id, "Ünïcode.txt", size)
    assert sha256 == hashlib.sha256(b"x" * size).hexdigest()
    assert list(blobs(app).values()) == [b"x" * size]
    with app.app_context():
        assert db.session.get(User, alice.id).used_bytes == size
    assert_no_reservation(app)


def test_a_body_the_type_rules_refuse_is_not_kept(app, alice):
    with pytest.raises(ContentMismatch):
        store(app, alice, io.BytesIO(b"not a png"), 9, "photo.png")

    assert_nothing_stored(app)
    assert_no_reservation(app)
    assert store(app, alice, io.BytesIO(PNG), len(PNG), "photo.png")[2] == "photo.png"


@pytest.mark.parametrize("announced", [True, False], ids=["length", "no-length"])
def test_a_body_over_the_quota_leaves_nothing_behind(app, alice, announced):
    set_quota(app, alice, 2 * MiB)
    body = Body(10 * MiB)

    with pytest.raises(QuotaExceeded):
        store(app, alice, body, body.size if announced else None)

    # Announced, it is refused before a byte is read; otherwise with the
    # piece that does not fit, and nothing is read after it.
    assert body.position == (0 if announced else 3 * MiB)
    assert_nothing_stored(app)
    assert_no_reservation(app)


@pytest.mark.parametrize(
    "name, error",
    [("", InvalidName), ("a/b.txt", InvalidName), ("a\tb.txt", InvalidName)],
)
def test_a_bad_name_is_refused_before_a_byte_is_read(app, alice, name, error):
    body = Body(10)

    with pytest.raises(error):
        store(app, alice, body, 10, name)

    assert body.position == 0
    assert_nothing_stored(app)


def test_a_type_the_server_refuses_is_refused_unread(app, alice):
    app.config["ALLOWED_EXTENSIONS"] = "pdf"
    body = Body(10)

    with pytest.raises(FileTypeNotAllowed):
        store(app, alice, body, 10, "notes.txt")

    assert body.position == 0
    assert_nothing_stored(app)


def test_a_stream_that_fails_midway_leaves_nothing_behind(app, alice):
    set_quota(app, alice, 100 * MiB)
    body = Body(5 * MiB, fail_after=2 * MiB)

    with pytest.raises(OSError, match="reset"):
        store(app, alice, body, body.size)

    assert_nothing_stored(app)
    assert_no_reservation(app)


@pytest.mark.parametrize(
    "size, length, error",
    [(11, 10, uploads.BodyTooLong), (9, 10, uploads.IncompleteBody)],
    ids=["longer", "shorter"],
)
def test_a_body_that_is_not_its_announced_length_is_not_kept(
    app, alice, size, length, error
):
    with pytest.raises(error):
        store(app, alice, Body(size), length)

    assert_nothing_stored(app)
    assert_no_reservation(app)


def test_a_taken_name_fails_unless_told_to_replace(app, alice, upload):
    upload(alice, "notes.txt", b"old")

    with pytest.raises(Conflict):
        store(app, alice, io.BytesIO(b"new"), 3)
    file_id = store(app, alice, io.BytesIO(b"new"), 3, on_conflict="replace")[0]

    with app.app_context():
        live = db.session.scalars(select(Node).where(tree.LIVE)).all()
        assert [node.id for node in live] == [file_id]
    assert sorted(blobs(app).values()) == [
        b"new",
        b"old",  # the replaced file, in the trash
    ]
