"""Resumable uploads: one request's bytes, appended to the upload's partial file.

`offset` only ever counts bytes already fsynced (and verified, when the client
sent a checksum): a request cut short keeps what fully arrived, so the client
resumes from there, or keeps nothing it cannot verify.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import update

from vault.errors import BadRequest, NotFound, UploadTooLarge, VaultError
from vault.extensions import db
from vault.models import ResumableUpload
from vault.services import quotas, upload_hashes
from vault.services.resumable_expiry import forget, upload_lifetime
from vault.services.resumable_lease import Lease, LeaseLost
from vault.services.uploads import BODY_READ_BYTES
from vault.storage import get_storage
from vault.storage.base import ResumableWriter
from vault.storage.hashing import StreamHash

# A long request without a checksum makes its bytes durable and counts them at
# least this often, so a crash loses little of it.
CHECKPOINT_BYTES = 64 * 1024 * 1024
CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")

BYTES_GONE = "This upload's bytes are gone; start it again."


class ChecksumMismatch(VaultError):
    status = 460
    code = "checksum_mismatch"
    message = (
        "Checksum Mismatch: these bytes do not match their Upload-Checksum, so "
        "they were discarded. Send them again."
    )


class BodyTooLong(UploadTooLarge):
    message = "This request carries more bytes than the upload has left."


class IncompleteBody(BadRequest):
    code = "incomplete_body"
    message = "The request body ended before all its bytes arrived."


class Body(Protocol):
    """A request body: `read` returns up to `size` bytes, b"" at its end.

    It raises IncompleteBody if the client went away, BodyTooLong past the
    server's limit.
    """

    def read(self, size: int) -> bytes: ...


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes

    def new(self):
        # Integrity against transfer errors, not a security decision.
        return hashlib.new(self.algorithm, usedforsecurity=False)


def checksum(algorithm: str, digest: bytes) -> Checksum:
    """Return the checksum a client sent; raise BadRequest if we cannot check it."""
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise BadRequest(
            f"Upload-Checksum: {algorithm!r} is not supported; use one of "
            f"{', '.join(CHECKSUM_ALGORITHMS)}."
        )
    if len(digest) != hashlib.new(algorithm, usedforsecurity=False).digest_size:
        raise BadRequest(f"Upload-Checksum: that is not a {algorithm} digest.")
    return Checksum(algorithm, digest)


@dataclass
class Appending:
    """One request's bytes on their way into an upload (plain values, no rows)."""

    upload_id: str
    owner_id: str
    length: int
    reservation_id: str | None
    filename: str
    folder_id: str | None
    path: str
    on_conflict: str
    lease: Lease
    writer: ResumableWriter
    # Bytes counted in the database: durable, and verified if checksummed.
    committed: int
    expires_at: datetime
    now: datetime
    # SHA-256 of the bytes written so far, if this process saw them all.
    digest: StreamHash | None

    @classmethod
    def start(cls, upload, lease: Lease, now: datetime) -> "Appending":
        try:
            writer = get_storage().append_resumable(
                upload.owner_id, upload.id, upload.offset
            )
        except FileNotFoundError:
            # Its bytes were removed behind our back: the upload cannot go on.
            forget(upload.id)
            raise NotFound(BYTES_GONE) from None
        return cls(
            upload.id,
            upload.owner_id,
            upload.length,
            upload.reservation_id,
            upload.filename,
            upload.folder_id,
            upload.path,
            upload.on_conflict,
            lease,
            writer,
            upload.offset,
            upload.expires_at,
            now,
            upload_hashes.resume(upload.id, upload.offset),
        )


def receive(
    state: Appending, body: Body, checksum: Checksum | None, length: int | None
) -> None:
    """Append the body's bytes; count them once durable (and verified)."""
    hasher = checksum.new() if checksum else None
    end = None if length is None else state.committed + length
    try:
        _copy(state, body, hasher)
        # Some servers (gunicorn) end the body quietly when the client goes.
        if end is not None and state.writer.offset < end:
            raise IncompleteBody()
    except LeaseLost:
        raise  # the file is another request's now: hands off
    except IncompleteBody:
        # Cut short after the upload's last byte, it is complete all the same.
        if state.writer.offset < state.length:
            _keep_what_arrived(state, hasher)
    except BaseException:
        _rewind(state)
        raise
    if hasher is not None and hasher.digest() != checksum.digest:
        _rewind(state)
        raise ChecksumMismatch()
    # The last bytes are made durable here but counted with the file they
    # complete (`_complete` in resumable.py).
    if state.writer.offset < state.length:
        _checkpoint(state)
    else:
        state.writer.sync()


def _keep_what_arrived(state: Appending, hasher) -> None:
    """Count what fully arrived so the client resumes from there; raise."""
    if hasher is None:
        _checkpoint(state)
    else:
        _rewind(state)  # a part cannot be verified
    raise IncompleteBody(
        "The request body ended before all its bytes arrived; the upload "
        f"has {state.committed} bytes, go on from there."
    )


def _rewind(state: Appending) -> None:
    """Drop the bytes past the counted offset, and the hash that covers them."""
    state.writer.truncate(state.committed)
    if state.digest is not None:
        state.digest.close()
        state.digest = None


def _copy(state: Appending, body: Body, hasher) -> None:
    writer = state.writer
    while True:
        left = state.length - writer.offset
        # One byte more than fits tells a body that is too long, before any
        # byte past the upload's length is written.
        piece = body.read(min(BODY_READ_BYTES, left + 1))
        if not piece:
            return
        if len(piece) > left:
            raise BodyTooLong(
                "This request carries more bytes than the upload has left; "
                f"what it sent after byte {state.committed} was discarded."
            )
        state.lease.keep()
        writer.write(piece)
        if state.digest is not None:
            state.digest.update(piece)
        if hasher is not None:
            hasher.update(piece)
        elif CHECKPOINT_BYTES <= writer.offset - state.committed and left > len(piece):
            # Never at the last byte: a body too long must not leave the
            # upload counted as complete without becoming a file.
            _checkpoint(state)


def _checkpoint(state: Appending) -> None:
    """Make the written bytes durable, then count them and renew the upload.

    Commits in the middle of a PATCH (through `quotas.reserve`): the offset
    counts bytes once they are on disk, so a crash loses no confirmed byte and
    no transaction stays open while the rest arrives.
    """
    state.writer.sync()
    lifetime = upload_lifetime()
    expires_at = state.now + lifetime
    state.lease.extend(offset=state.writer.offset, expires_at=expires_at)
    # Renewing the reservation commits the new offset with it.
    held = quotas.reserve(
        state.owner_id, state.length, state.reservation_id, state.now, lifetime
    )
    state.committed, state.expires_at = state.writer.offset, expires_at
    if state.digest is not None:
        upload_hashes.remember(state.upload_id, state.committed, state.digest)
    if held is None:
        raise quotas.refuse(state.owner_id, state.length)
    if held != state.reservation_id:
        # The old hold had lapsed (it is released by then): note the new one.
        state.reservation_id = held
        db.session.execute(
            update(ResumableUpload)
            .where(ResumableUpload.id == state.upload_id)
            .values(reservation_id=held)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
