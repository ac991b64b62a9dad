"""Upload-only links ("file requests"): receiving strangers' files, within limits."""

from datetime import datetime

from flask import current_app
from sqlalchemy import or_, update

from vault.errors import (
    BadRequest,
    FileTypeNotAllowed,
    Gone,
    QuotaExceeded,
    UploadTooLarge,
    VaultError,
)
from vault.extensions import db
from vault.models import ShareLink, utcnow
from vault.services import access, files, filetypes, notices
from vault.services.share_access import GONE_MESSAGES, Visitor, add_to_log
from vault.services.uploads import MeteredWriter, RefusedFile, UploadReceiver
from vault.storage import BlobWriter
from vault.text import has_control_characters
from vault.units import format_size

NO_ROOM = "There is not enough free space in the owner’s storage for this upload."


class TooManyFiles(BadRequest):
    code = "too_many_files"


class _CappedWriter:
    """A metered storage writer that stops taking bytes past the link's limits.

    The stream goes on (the client keeps sending), but nothing more reaches
    the disk, and the refusal is remembered for `receive_uploads`.
    """

    def __init__(self, writer: MeteredWriter, max_file_size: int | None):
        self._writer, self._max_file_size = writer, max_file_size
        self.refusal: str | None = None

    key = property(lambda self: self._writer.key)
    size = property(lambda self: self._writer.size)
    head = property(lambda self: self._writer.head)
    sha256 = property(lambda self: self._writer.sha256)

    def write(self, data: bytes) -> int:
        if self.refusal is None:
            self.refusal = self._write(data)
        return len(data)

    def _write(self, data: bytes) -> str | None:
        limit = self._max_file_size
        if limit is not None and self._writer.size + len(data) > limit:
            self._writer.discard()
            return "too_large"
        try:
            self._writer.write(data)
        except QuotaExceeded:
            return "no_room"  # the metered writer has dropped its bytes
        return None

    def commit(self) -> None:
        if self.refusal is not None:
            raise UploadTooLarge()
        self._writer.commit()

    def discard(self) -> None:
        self._writer.discard()


class LinkUploadReceiver(UploadReceiver):
    """Receive an upload link's files into the owner's storage, within limits.

    A file of a type the link refuses is never written; one over the link's
    size limit, or bytes beyond the owner's free space, stop being written the
    moment they pass it: a stranger with the link cannot fill the disk with
    bytes we would refuse anyway. Refusals never
    show the owner's figures.
    """

    def __init__(self, share: ShareLink, declared: int | None = None, framing: int = 0):
        # Asked before a byte is read: may this link put files in its folder?
        folder = access.resolve(share, share.node_id, access.WRITE, kind=access.FOLDER)
        try:
            super().__init__(folder.owner, declared, framing)
        except QuotaExceeded as error:
            raise QuotaExceeded(NO_ROOM) from error
        self._max_file_size = share.max_file_size
        self.share = share

    def open_file(self, name: str) -> _CappedWriter | RefusedFile:
        try:
            check_type_allowed(self.share, name)
        except VaultError:
            return RefusedFile()  # refused by `receive_uploads`
        writer = super().open_file(name)
        if isinstance(writer, RefusedFile):
            return writer
        return _CappedWriter(writer, self._max_file_size)


def check_type_allowed(share: ShareLink, name: str) -> str:
    """Return the cleaned name, or raise if the server or the link refuses its type.

    The link's own list (set by its owner: strangers upload here) applies on
    top of the server's. Raises InvalidName or FileTypeNotAllowed.
    """
    name = files.check_name_allowed(name)
    allowed = share.allowed_extensions
    if allowed and filetypes.extension_of(name) not in allowed:
        raise FileTypeNotAllowed(
            f"“{name}” was refused: this link accepts only "
            f"{filetypes.describe_extensions(allowed)}."
        )
    return name


def upload_size_limit(share: ShareLink) -> int | None:
    """Return the largest file the link accepts: its own limit or the server's."""
    limits = [share.max_file_size, current_app.config["MAX_UPLOAD_BYTES"]]
    return min((limit for limit in limits if limit), default=None)


def files_left(share: ShareLink) -> int | None:
    """Return how many more files an upload link takes (None: no limit)."""
    if share.max_files is None:
        return None
    return max(0, share.max_files - share.upload_count)


def receive_uploads(
    share: ShareLink,
    uploads: list[tuple[str, BlobWriter]],
    visitor: Visitor,
    sender: str = "",
    now: datetime | None = None,
    reservation_id: str | None = None,
) -> list[str]:
    """Store files sent through an upload link in its folder, all or none.

    They count against the owner's quota. Return the names as sent: the names
    they got (renamed around existing files) would tell a visitor what the
    folder holds. Raises FileTypeNotAllowed (the link's types), UploadTooLarge,
    TooManyFiles, QuotaExceeded and the errors of `files.store_uploads`.
    """
    now = now or utcnow()
    for name, writer in uploads:
        check_type_allowed(share, name)
        _check_received(share, name, writer)
    _reserve_files(share, len(uploads), now)
    try:
        stored = files.store_uploads(
            share,
            uploads,
            folder=share.node_id,
            on_conflict="rename",
            now=now,
            reservation_id=reservation_id,
        )
    except QuotaExceeded as error:
        _release_files(share.id, len(uploads))
        raise QuotaExceeded(NO_ROOM) from error
    except BaseException:
        _release_files(share.id, len(uploads))
        raise
    sender = _clean_sender(sender)
    for file in stored:
        detail = f"{file.name} (from {sender})" if sender else file.name
        add_to_log(share, "upload", visitor, detail, now=now)
    notices.uploads_received(share, now)
    db.session.commit()
    return [name for name, _ in uploads]


def _clean_sender(sender: str) -> str:
    # Whatever a stranger typed: one line, no control characters (PostgreSQL
    # refuses NUL), short enough for the log.
    printable = "".join(char for char in sender if not has_control_characters(char))
    return " ".join(printable.split())[:100]


def _check_received(share: ShareLink, name: str, writer) -> None:
    refusal = getattr(writer, "refusal", None)
    if refusal == "too_large":
        limit = format_size(share.max_file_size)
        raise UploadTooLarge(f"“{name}” is larger than the {limit} this link accepts.")
    if refusal == "no_room":
        raise QuotaExceeded(NO_ROOM)


def _reserve_files(share: ShareLink, count: int, now: datetime) -> None:
    """Count the files against the link's limit, in a transaction of their own.

    One conditional UPDATE, like share_downloads.claim: parallel uploads
    cannot together pass the link's number of files. Committed before the
    files are stored, so that no lock on the link is held meanwhile;
    `_release_files` gives the count back (also committed) if they are not.
    """
    reserved = db.session.execute(
        update(ShareLink)
        .where(
            ShareLink.id == share.id,
            ShareLink.open_at(now),
            or_(
                ShareLink.max_files.is_(None),
                ShareLink.upload_count + count <= ShareLink.max_files,
            ),
        )
        .values(upload_count=ShareLink.upload_count + count)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if reserved:
        return
    left = files_left(share)
    if not left:
        raise Gone(GONE_MESSAGES["exhausted-upload"])
    more = "1 more file" if left == 1 else f"{left} more files"
    raise TooManyFiles(f"This link accepts only {more}. Send fewer at once.")


def _release_files(share_id: str, count: int) -> None:
    """Give back what `_reserve_files` counted; commits, as it did."""
    db.session.execute(
        update(ShareLink)
        .where(ShareLink.id == share_id, ShareLink.upload_count >= count)
        .values(upload_count=ShareLink.upload_count - count)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
