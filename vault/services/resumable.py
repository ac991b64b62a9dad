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

This module holds the use cases (create, append and complete, terminate).
Finding an upload and leasing its row is in resumable_lease.py, one request's
bytes in resumable_bytes.py, lifetimes and forgetting in resumable_expiry.py.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import current_app

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
from vault.services.resumable_bytes import (
    BYTES_GONE,
    Appending,
    Body,
    BodyTooLong,
    Checksum,
    receive,
)
from vault.services.resumable_expiry import forget, remove_expired, upload_lifetime
from vault.services.resumable_lease import (
    Lease,
    LeaseLost,
    UploadBusy,
    get_upload,
    lease_free,
)
from vault.storage import get_storage


class OffsetMismatch(Conflict):
    code = "offset_mismatch"

    def __init__(self, offset: int, sent: int):
        super().__init__(
            f"This upload has {offset} bytes, so the next ones start at "
            f"Upload-Offset: {offset}, not {sent}."
        )


@dataclass(frozen=True)
class Progress:
    """Where an upload stands after a request; `file_id` once it became a file."""

    offset: int
    length: int
    expires_at: datetime | None
    file_id: str | None = None


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
    lease = Lease.take(user, upload_id, now)
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
        state = Appending.start(upload, lease, now)
        db.session.commit()  # no transaction stays open while bytes arrive
        try:
            receive(state, body, checksum, content_length)
        except StorageFull:
            # Not something the client can wait out: the whole upload goes,
            # so its bytes and quota do not keep the disk full.
            _drop(user, upload_id)
            raise
        except FileNotFoundError:
            # Its bytes went while this request wrote (an S3 multipart upload
            # aborted or expired under us): as if gone before it started.
            _drop(user, upload_id)
            raise NotFound(BYTES_GONE) from None
        finally:
            state.writer.close()
            if state.digest is not None:
                state.digest.close()
        if state.writer.offset < state.length:
            return Progress(state.committed, state.length, state.expires_at)
        return _complete(user, state)
    finally:
        lease.release()


def _drop(user: User, upload_id: str) -> None:
    """Forget an upload that cannot go on, then delete what is left of its bytes."""
    forget(upload_id)
    get_storage().delete_resumable(user.id, upload_id)


def _completed(upload: ResumableUpload, body: Body, length: int | None) -> Progress:
    """Answer an empty request to a complete upload; refuse bytes for it."""
    if length or (length is None and body.read(1)):
        raise BodyTooLong("This upload is complete: it takes no more bytes.")
    return Progress(upload.length, upload.length, upload.expires_at, upload.file_id)


def _complete(user: User, state: Appending) -> Progress:
    """Turn the finished bytes into a file; on refusal, remove the whole upload.

    The upload becomes complete in the transaction that adds the file, and
    only while this request still holds it (LeaseLost, and no file, if not).
    """
    sha256 = state.digest.hexdigest() if state.digest is not None else None
    try:
        finished = get_storage().finish_resumable(
            state.owner_id,
            state.upload_id,
            state.length,
            sha256=sha256,
            progress=state.lease.keep,
        )
    except FileNotFoundError:
        _drop(user, state.upload_id)
        raise NotFound(BYTES_GONE) from None
    expires_at = state.now + upload_lifetime()

    def record_completion(stored: list[Node]) -> None:
        # The reservation became the file's use in this same transaction,
        # which may roll back and be tried again (a name taken meanwhile).
        state.lease.record(
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
        forget(state.upload_id)
        raise
    upload_hashes.forget(state.upload_id)
    return Progress(state.length, state.length, expires_at, file.id)


def terminate(user: User, upload_id: str, now: datetime | None = None) -> None:
    """Cancel an upload: its bytes, its quota and its row go. Raises NotFound.

    A complete upload only loses its row: the file it became stays.
    """
    now = now or utcnow()
    upload = get_upload(user, upload_id, now)
    clock = utcnow()
    if forget(upload.id, lease_free(clock)) is None:
        upload = get_upload(user, upload_id, now)  # gone meanwhile: NotFound
        raise UploadBusy.until(upload.locked_until, clock)
    get_storage().delete_resumable(user.id, upload_id)
