"""Resumable uploads (tus): bytes that arrive over many requests, then a file.

An upload is a row and a partial file in its owner's storage area. The quota
for its whole announced length is held from creation by a reservation that
lives as long as the upload. A request appending bytes first takes a lease on
the row, so two requests (in any processes) never write at once; `offset` only
ever counts bytes already fsynced. When the last byte is in, the partial file
becomes a file through `files.store_uploads`, exactly like any other upload.

The row outlives its completion (tus 1.0.0: a finished upload still answers
with its offset until it expires). In the transaction that adds the file, it
takes `offset = length` and the file's id, so an upload reads as complete
exactly when its file exists, and a client that lost the last answer learns
both instead of sending the whole file again.
"""

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from flask import current_app
from sqlalchemy import delete, or_, select, update

from vault.errors import (
    BadRequest,
    Conflict,
    NotFound,
    StorageFull,
    UploadTooLarge,
    VaultError,
)
from vault.extensions import db
from vault.models import Node, ResumableUpload, User, new_id, utcnow
from vault.services import files, quotas, tree, upload_hashes
from vault.services.ownership import get_owned
from vault.services.uploads import BODY_READ_BYTES
from vault.storage import get_storage
from vault.storage.hashing import StreamHash
from vault.storage.local import ResumableWriter

# The lease of a request writing bytes; it is renewed while bytes arrive, so
# it only lapses when that request died or stalled. After a crash, clients
# wait at most this long (423) before they may go on.
LEASE = timedelta(seconds=30)
# Renewed once less than this is left: each write then ends well within it.
LEASE_RENEWAL = timedelta(seconds=20)
# A long request without a checksum makes its bytes durable and counts them at
# least this often, so a crash loses little of it.
CHECKPOINT_BYTES = 64 * 1024 * 1024
CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")


class OffsetMismatch(Conflict):
    code = "offset_mismatch"

    def __init__(self, offset: int, sent: int):
        super().__init__(
            f"This upload has {offset} bytes, so the next ones start at "
            f"Upload-Offset: {offset}, not {sent}."
        )


class UploadBusy(VaultError):
    status = 423
    code = "upload_busy"
    message = (
        "Another request is sending bytes to this upload right now. Wait for it "
        "to end, then ask for the offset (HEAD) and go on from there."
    )

    @classmethod
    def until(cls, locked_until: datetime | None, now: datetime) -> "UploadBusy":
        """The error, telling when the lease runs out if its holder is gone.

        A request that died (a crashed worker) holds its lease to the end:
        a client told when can try again then, rather than backing off past it.
        """
        error = cls()
        if locked_until is not None:
            error.retry_after = max(1, math.ceil((locked_until - now).total_seconds()))
        return error


class LeaseLost(UploadBusy):
    message = (
        "This request stalled and another one took over the upload; "
        "ask for the offset (HEAD) and go on from there."
    )


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


@dataclass(frozen=True)
class Progress:
    """Where an upload stands after a request; `file_id` once it became a file."""

    offset: int
    length: int
    expires_at: datetime | None
    file_id: str | None = None


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


def upload_lifetime() -> timedelta:
    """How long an upload (and its reservation) lives after its last bytes."""
    return timedelta(hours=float(current_app.config["UPLOAD_EXPIRY_HOURS"]))


def get_upload(user: User, upload_id: str, now: datetime | None = None):
    """Return the user's live upload; expired or anyone else's is NotFound."""
    now = now or utcnow()
    return get_owned(
        ResumableUpload, upload_id, user, "upload", ResumableUpload.expires_at > now
    )


def create_upload(
    user: User,
    length: int,
    filename: str,
    *,
    folder_id: str | None = None,
    path: str = "",
    on_conflict: str = "rename",
    metadata: dict | None = None,
    now: datetime | None = None,
) -> ResumableUpload:
    """Start an upload of `length` bytes, holding their quota until it expires.

    Everything that can be known before the bytes is checked first: the name
    and its type, the folder and the path below it, the size. Raises
    InvalidName, FileTypeNotAllowed, NotFound (folder), BadRequest,
    UploadTooLarge or QuotaExceeded.
    """
    now = now or utcnow()
    name = files.check_name_allowed(filename)
    folder = tree.get_folder(user, folder_id)
    # Read as completion will read it, so a bad path fails before any byte.
    path = "/".join(tree.path_parts(path))
    files.check_conflict_policy(on_conflict)
    _check_length(length)
    # The user's abandoned uploads give their space back before we count it.
    remove_expired(now, user_id=user.id)
    reservation_id = _hold(user.id, length, None, now)
    upload = ResumableUpload(
        id=new_id(),
        owner_id=user.id,
        reservation_id=reservation_id,
        length=length,
        filename=name,
        folder_id=folder.id if folder else None,
        path=path,
        on_conflict=on_conflict,
        upload_metadata=metadata or {},
        created_at=now,
        expires_at=now + upload_lifetime(),
    )
    try:
        # File first, row second: a crash in between leaves a file for fsck.
        get_storage().create_resumable(user.id, upload.id)
        db.session.add(upload)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        get_storage().delete_resumable(user.id, upload.id)
        quotas.release(reservation_id)
        raise
    return upload


def _check_length(length: int) -> None:
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    if length < 0:
        raise BadRequest("Upload-Length must be a number of bytes.")
    if limit is not None and length > limit:
        raise UploadTooLarge(
            f"This upload is {length} bytes; the server takes at most {limit}."
        )


def _hold(user_id: str, length: int, reservation_id, now: datetime) -> str:
    """Hold `length` bytes of quota until the upload expires; return the hold's id."""
    lifetime = upload_lifetime()
    held = quotas.reserve(user_id, length, reservation_id, now, lifetime)
    if held is None and quotas.release_expired(now, user_id):
        held = quotas.reserve(user_id, length, reservation_id, now, lifetime)
    if held is None:
        raise quotas.refuse(user_id, length)
    return held


def append(
    user: User,
    upload_id: str,
    body: Body,
    *,
    offset: int,
    content_length: int | None = None,
    checksum: Checksum | None = None,
    now: datetime | None = None,
) -> Progress:
    """Append a request's bytes at `offset`; the last byte makes the file.

    Raises NotFound, OffsetMismatch, UploadBusy, BodyTooLong, IncompleteBody
    (after keeping what arrived, unless a checksum covers it), ChecksumMismatch
    (keeping nothing), StorageFull, or what `files.store_uploads` raises on
    completion (the upload is then removed entirely, as on StorageFull). An
    empty request at the end of a complete upload (its last one again, sent by a
    client that lost the answer) is answered with the file it became.
    """
    now = now or utcnow()
    lease = _Lease.take(user, upload_id, now)
    try:
        upload = get_upload(user, upload_id, now)  # read under the lease
        if offset != upload.offset:
            raise OffsetMismatch(upload.offset, offset)
        if upload.file_id is not None:
            return _completed(upload, body, content_length)
        left = upload.length - upload.offset
        if content_length is not None and content_length > left:
            raise BodyTooLong(
                f"This request carries {content_length} bytes but the upload "
                f"has only {left} left of its Upload-Length."
            )
        state = _Appending.start(upload, lease, now)
        db.session.commit()  # no transaction stays open while bytes arrive
        try:
            _receive(state, body, checksum, content_length)
        except StorageFull:
            # Not something the client can wait out: the whole upload goes,
            # so its bytes and quota do not keep the disk full.
            _forget(upload_id)
            get_storage().delete_resumable(user.id, upload_id)
            raise
        finally:
            state.writer.close()
            if state.digest is not None:
                state.digest.close()
        if state.writer.offset < state.length:
            return Progress(state.committed, state.length, state.expires_at)
        return _complete(user, state)
    finally:
        lease.release()


def _completed(upload: ResumableUpload, body: Body, length: int | None) -> Progress:
    """Answer an empty request to a complete upload; refuse bytes for it."""
    if length or (length is None and body.read(1)):
        raise BodyTooLong("This upload is complete: it takes no more bytes.")
    return Progress(upload.length, upload.length, upload.expires_at, upload.file_id)


class _Lease:
    """The right to write an upload's bytes, held in its row until a time.

    The time itself identifies the holder: every renewal is conditional on the
    row still holding ours, so a request whose lease lapsed and was taken over
    finds out before its next write, never after.
    """

    def __init__(self, upload_id: str, until: datetime):
        self.upload_id, self.until = upload_id, until

    @classmethod
    def take(cls, user: User, upload_id: str, now: datetime) -> "_Lease":
        clock = utcnow()
        until = clock + LEASE
        taken = db.session.execute(
            update(ResumableUpload)
            .where(
                ResumableUpload.id == upload_id,
                ResumableUpload.owner_id == user.id,
                ResumableUpload.expires_at > now,
                _lease_free(clock),
            )
            .values(locked_until=until)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        if not taken:
            # Not this user's, or gone: NotFound; else someone holds it.
            upload = get_upload(user, upload_id, now)
            raise UploadBusy.until(upload.locked_until, clock)
        return cls(upload_id, until)

    def keep(self) -> None:
        """Renew the lease if it is running short; raise LeaseLost if taken."""
        clock = utcnow()
        if self.until - clock > LEASE_RENEWAL:
            return
        self.extend()
        db.session.commit()

    def extend(self, **values) -> None:
        """Renew the lease and set `values` on the row, in the open transaction."""
        until = utcnow() + LEASE
        moved = db.session.execute(
            update(ResumableUpload)
            .where(
                ResumableUpload.id == self.upload_id,
                ResumableUpload.locked_until == self.until,
            )
            .values(locked_until=until, **values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not moved:
            db.session.rollback()
            raise LeaseLost()
        self.until = until

    def release(self) -> None:
        """Let the next request in; harmless if the row is gone or was taken."""
        db.session.rollback()
        db.session.execute(
            update(ResumableUpload)
            .where(
                ResumableUpload.id == self.upload_id,
                ResumableUpload.locked_until == self.until,
            )
            .values(locked_until=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def _lease_free(now: datetime):
    return or_(
        ResumableUpload.locked_until.is_(None), ResumableUpload.locked_until <= now
    )


@dataclass
class _Appending:
    """One request's bytes on their way into an upload (plain values, no rows)."""

    upload_id: str
    owner_id: str
    length: int
    reservation_id: str | None
    filename: str
    folder_id: str | None
    path: str
    on_conflict: str
    lease: _Lease
    writer: ResumableWriter
    # Bytes counted in the database: durable, and verified if checksummed.
    committed: int
    expires_at: datetime
    now: datetime
    # SHA-256 of the bytes written so far, if this process saw them all.
    digest: StreamHash | None

    @classmethod
    def start(cls, upload, lease: _Lease, now: datetime) -> "_Appending":
        try:
            writer = get_storage().append_resumable(
                upload.owner_id, upload.id, upload.offset
            )
        except FileNotFoundError:
            # Its bytes were removed behind our back: the upload cannot go on.
            _forget(upload.id)
            raise NotFound("This upload's bytes are gone; start it again.") from None
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


def _receive(
    state: _Appending, body: Body, checksum: Checksum | None, length: int | None
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
    # The last bytes are counted with the file they complete (_complete), and
    # made durable when it is committed.
    if state.writer.offset < state.length:
        _checkpoint(state)


def _keep_what_arrived(state: _Appending, hasher) -> None:
    """Count what fully arrived so the client resumes from there; raise."""
    if hasher is None:
        _checkpoint(state)
    else:
        _rewind(state)  # a part cannot be verified
    raise IncompleteBody(
        "The request body ended before all its bytes arrived; the upload "
        f"has {state.committed} bytes, go on from there."
    )


def _rewind(state: _Appending) -> None:
    """Drop the bytes past the counted offset, and the hash that covers them."""
    state.writer.truncate(state.committed)
    if state.digest is not None:
        state.digest.close()
        state.digest = None


def _copy(state: _Appending, body: Body, hasher) -> None:
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


def _checkpoint(state: _Appending) -> None:
    """Make the written bytes durable, then count them and renew the upload."""
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


def _complete(user: User, state: _Appending) -> Progress:
    """Turn the finished bytes into a file; on refusal, remove the whole upload.

    The upload becomes complete in the transaction that adds the file, and
    only while this request still holds it (LeaseLost, and no file, if not).
    """
    sha256 = state.digest.hexdigest() if state.digest is not None else None
    finished = get_storage().finish_resumable(
        state.owner_id, state.upload_id, sha256=sha256, progress=state.lease.keep
    )
    expires_at = state.now + upload_lifetime()

    def record_completion(stored: list[Node]) -> None:
        # The reservation became the file's use in this same transaction.
        state.lease.extend(
            offset=state.length,
            file_id=stored[0].id,
            reservation_id=None,
            expires_at=expires_at,
        )

    try:
        # Still ours, with time to spare for storing the file? (LeaseLost if not.)
        state.lease.keep()
        [file] = files.store_uploads(
            user,
            [(state.filename, finished)],
            folder=tree.get_folder(user, state.folder_id),
            path=state.path,
            on_conflict=state.on_conflict,
            now=state.now,
            reservation_id=state.reservation_id,
            before_commit=record_completion,
        )
    except LeaseLost:
        raise
    except VaultError:
        finished.discard()
        _forget(state.upload_id)
        raise
    upload_hashes.forget(state.upload_id)
    return Progress(state.length, state.length, expires_at, file.id)


def _forget(upload_id: str, *conditions):
    """Delete an upload's row meeting `conditions` and release its quota; commit.

    Return the row's owner_id, offset and file_id, or None if no such row. The
    caller deletes the bytes: row first, bytes second, so a crash leaves bytes
    that fsck finds, never a row without them.
    """
    row = db.session.execute(
        delete(ResumableUpload)
        .where(ResumableUpload.id == upload_id, *conditions)
        .returning(
            ResumableUpload.owner_id,
            ResumableUpload.reservation_id,
            ResumableUpload.offset,
            ResumableUpload.file_id,
        )
        .execution_options(synchronize_session=False)
    ).first()
    # Harmless when the reservation was already charged or released.
    quotas.release(row.reservation_id if row else None)
    upload_hashes.forget(upload_id)
    return row


def terminate(user: User, upload_id: str, now: datetime | None = None) -> None:
    """Cancel an upload: its bytes, its quota and its row go. Raises NotFound.

    A complete upload only loses its row: the file it became stays.
    """
    now = now or utcnow()
    upload = get_upload(user, upload_id, now)
    clock = utcnow()
    if _forget(upload.id, _lease_free(clock)) is None:
        upload = get_upload(user, upload_id, now)  # gone meanwhile: NotFound
        raise UploadBusy.until(upload.locked_until, clock)
    get_storage().delete_resumable(user.id, upload_id)


def forget_expired(upload_id: str, now: datetime):
    """Delete an expired upload's row and release its quota, unless it is in use.

    Return the row (see `_forget`), or None. The caller removes the bytes.
    """
    return _forget(upload_id, ResumableUpload.expires_at <= now, _lease_free(utcnow()))


def remove_expired(
    now: datetime | None = None, user_id: str | None = None
) -> tuple[int, int]:
    """Remove expired uploads: rows, quota and bytes.

    Return how many unfinished ones, and the bytes they had received; the rows
    of complete ones (no bytes, no quota) go too, uncounted.
    """
    now = now or utcnow()
    query = select(ResumableUpload.id).where(ResumableUpload.expires_at <= now)
    if user_id is not None:
        query = query.where(ResumableUpload.owner_id == user_id)
    expired = list(db.session.scalars(query))
    db.session.commit()
    count = received = 0
    for upload_id in expired:
        row = forget_expired(upload_id, now)
        if row is not None and row.file_id is None:
            get_storage().delete_resumable(row.owner_id, upload_id)
            count, received = count + 1, received + row.offset
    return count, received
