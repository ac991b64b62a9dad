"""Receiving uploaded bytes straight into storage, while the request streams."""

from vault.errors import VaultError
from vault.models import User
from vault.services.files import check_name_allowed
from vault.storage import BlobWriter, get_storage


class DiscardingWriter:
    """Swallows the bytes of a part we will refuse anyway, so they never hit disk."""

    size = 0
    head = b""

    def write(self, data: bytes) -> int:
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def discard(self) -> None:
        pass

    close = discard


class UploadReceiver:
    """A Werkzeug stream factory: each file part streams into a storage writer.

    Use it as a context manager: on leaving, every writer not committed by
    `files.store_uploads` is discarded, so a failed request leaves no bytes behind.
    """

    def __init__(self, user: User):
        self._namespace = user.id
        self._writers: list[BlobWriter] = []

    def __call__(self, *, filename: str | None = None, **_part_info) -> BlobWriter:
        try:
            check_name_allowed(filename or "")
        except VaultError:
            return DiscardingWriter()
        writer = get_storage().new_writer(self._namespace)
        self._writers.append(writer)
        return writer

    def __enter__(self) -> "UploadReceiver":
        return self

    def __exit__(self, *exc_info) -> None:
        for writer in self._writers:
            writer.discard()
