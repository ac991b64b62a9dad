"""Receiving uploaded bytes straight into storage, while they stream in.

Front ends hand the bytes over in one of two ways: file by file as a parser
meets them (an `UploadReceiver`, which the HTTP layer adapts to Werkzeug's
multipart parser), or as one readable stream (`store_body`). Both end in
`files.store_uploads`.
"""

import time
from datetime import datetime
from typing import Protocol

from vault.errors import BadRequest, UploadTooLarge, VaultError
from vault.models import Node, User
from vault.services import files, names, quotas
from vault.storage import BlobWriter, get_storage

# Bodies are read in pieces this large: under gunicorn every read copies its
# buffer, and 1 MiB reads cost a fifth of the CPU of 64 KiB ones.
BODY_READ_BYTES = 1024 * 1024
# Quota is held ahead of the bytes in steps this large: one database write per
# step, not per read.
RESERVE_STEP = 16 * 1024 * 1024


class Readable(Protocol):
    """A body to store: `read` returns up to `size` bytes, b"" at its end."""

    def read(self, size: int) -> bytes: ...


class BodyTooLong(UploadTooLarge):
    message = "The body carries more bytes than it announced."


class IncompleteBody(BadRequest):
    code = "incomplete_body"
    message = "The body ended before all the bytes it announced arrived."


class RefusedFile:
    """Where the bytes of a file refused by its name go: nowhere.

    A parser that meets such a file must still read past it; the call that
    stores the upload checks the names again and says why it was refused.
    """

    size = 0
    head = b""

    def write(self, data: bytes) -> int:
        return len(data)

    def discard(self) -> None:
        pass


class QuotaMeter:
    """Holds quota for an upload's bytes as they arrive, and stops them past it.

    Space is reserved in the database ahead of the bytes (see quotas.reserve),
    never more than the announced length, and exactly what is needed when the
    user is close to the limit: the write that would pass the quota raises
    QuotaExceeded before its bytes reach the disk.
    """

    def __init__(self, user: User, declared: int | None = None):
        self._user_id = user.id
        self._limited = user.quota_bytes is not None
        self._declared = declared
        self.reservation_id: str | None = None
        self._held = 0
        self._received = 0
        # A slow upload renews its reservation before it could lapse, even
        # when its bytes still fit in what it holds.
        self._renew_every = quotas.reservation_lifetime().total_seconds() / 3
        self._renewed_at = time.monotonic()

    def admit(self, more: int) -> None:
        """Account for `more` bytes about to be written; raise QuotaExceeded."""
        needed = self._received + more
        if self._limited and (needed > self._held or self._renewal_due()):
            self._hold(needed)
        self._received = needed

    def _renewal_due(self) -> bool:
        return time.monotonic() - self._renewed_at > self._renew_every

    def _hold(self, needed: int) -> None:
        ahead = max(needed, self._held + RESERVE_STEP)
        if self._declared is not None:
            ahead = max(needed, min(ahead, self._declared))
        # Ahead if there is room, else exactly what this write needs; last,
        # after releasing what dead uploads of the user still held.
        if self._reserve(ahead) or self._reserve(needed):
            return
        if quotas.release_expired(user_id=self._user_id) and self._reserve(needed):
            return
        raise quotas.refuse(
            self._user_id,
            max(needed, self._declared or 0),
            held=self._held,
            size_known=self._declared is not None,
        )

    def _reserve(self, total: int) -> bool:
        reservation_id = quotas.reserve(self._user_id, total, self.reservation_id)
        if reservation_id is None:
            return False
        # The database keeps the larger of what the reservation held and
        # `total`; a fresh reservation (ours had lapsed) holds just `total`.
        same = reservation_id == self.reservation_id
        self._held = max(self._held, total) if same else total
        self.reservation_id = reservation_id
        self._renewed_at = time.monotonic()
        return True

    def release(self) -> None:
        """Give back what is held; a no-op once the upload was charged."""
        if self.reservation_id is not None:  # unlimited accounts hold nothing
            quotas.release(self.reservation_id)
        self.reservation_id, self._held = None, 0


class MeteredWriter:
    """A storage writer whose every write first passes the quota meter.

    A refused write deletes the partial blob at once and raises: the request
    stops there, so the rest of the body is never read, let alone stored.
    """

    def __init__(self, writer: BlobWriter, meter: QuotaMeter):
        self._writer, self._meter = writer, meter

    key = property(lambda self: self._writer.key)
    size = property(lambda self: self._writer.size)
    head = property(lambda self: self._writer.head)
    sha256 = property(lambda self: self._writer.sha256)

    def write(self, data: bytes) -> int:
        try:
            self._meter.admit(len(data))
        except VaultError:
            self._writer.discard()
            raise
        return self._writer.write(data)

    def commit(self) -> None:
        self._writer.commit()

    def discard(self) -> None:
        self._writer.discard()


class UploadReceiver:
    """Streams each file of one upload into a storage writer, within the quota.

    `declared` is the announced size of everything that carries the files, of
    which up to `framing` bytes may be something else (a multipart body's
    boundaries and fields): an upload that cannot fit is refused here, before
    its bytes are read. Use it as a context manager: on leaving, every writer
    not committed by `files.store_uploads` is discarded and held quota not
    charged is released, so a failed upload leaves nothing behind.
    """

    def __init__(self, user: User, declared: int | None = None, framing: int = 0):
        quotas.check_declared(user, declared, framing)
        self._namespace = user.id
        self._writers: list[BlobWriter] = []
        self.meter = QuotaMeter(user, declared)

    def open_file(self, name: str) -> MeteredWriter | RefusedFile:
        """Return where the bytes of a file named `name` go.

        A name the server refuses gets a RefusedFile: its bytes are dropped.
        """
        try:
            files.check_name_allowed(name)
        except VaultError:
            return RefusedFile()
        writer = get_storage().new_writer(self._namespace)
        self._writers.append(writer)
        return MeteredWriter(writer, self.meter)

    @property
    def reservation_id(self) -> str | None:
        return self.meter.reservation_id

    def __enter__(self) -> "UploadReceiver":
        return self

    def __exit__(self, *exc_info) -> None:
        for writer in self._writers:
            writer.discard()
        self.meter.release()


def store_body(
    user: User,
    body: Readable,
    length: int | None,
    *,
    folder: Node | None,
    name: str,
    on_conflict: str = "fail",
    now: datetime | None = None,
) -> Node:
    """Store one body, read to its end, as the file `name` in `folder`.

    For front ends that send a file as a whole body (a PUT): `length` is its
    announced size, None if unknown. The name is taken as sent or refused,
    like a typed one: the client names the file it will ask for again. Raises
    InvalidName or FileTypeNotAllowed before a byte is read, QuotaExceeded as
    soon as the bytes cannot fit, BodyTooLong or IncompleteBody if the body
    is not `length` bytes, and whatever `files.store_uploads` raises. Nothing
    is left behind on failure, also if reading the body raises.
    """
    name = files.check_name_allowed(names.check_typed_name(name))
    files.check_conflict_policy(on_conflict)
    with UploadReceiver(user, length) as receiver:
        writer = receiver.open_file(name)
        _copy_body(body, writer, length)
        [stored] = files.store_uploads(
            user,
            [(name, writer)],
            folder=folder,
            on_conflict=on_conflict,
            now=now,
            reservation_id=receiver.reservation_id,
        )
    return stored


def _copy_body(body: Readable, writer: MeteredWriter, length: int | None) -> None:
    while True:
        # One byte more than announced tells a body that is too long, before
        # any byte past its length is written.
        wanted = BODY_READ_BYTES if length is None else length - writer.size + 1
        piece = body.read(min(BODY_READ_BYTES, wanted))
        if not piece:
            break
        if length is not None and writer.size + len(piece) > length:
            raise BodyTooLong()
        writer.write(piece)
    if length is not None and writer.size < length:
        raise IncompleteBody()
