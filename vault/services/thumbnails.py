"""Image thumbnails: made once with Pillow, kept as a blob beside the file."""

import io

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import update

from vault.errors import NotFound, StorageFull
from vault.extensions import db
from vault.models import Node
from vault.services import access
from vault.services.access import Principal
from vault.storage import get_storage

THUMBNAIL_SIZE = (320, 320)
# Raster formats only: SVG is never rendered on the server (it is a program).
THUMBNAIL_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
}
# Refuse decompression bombs well before they eat the worker's memory.
MAX_PIXELS = 60_000_000


class NoThumbnail(NotFound):
    code = "no_thumbnail"
    message = "There is no thumbnail for this file."


def has_thumbnail(file: Node) -> bool:
    return not file.is_folder and file.content_type in THUMBNAIL_TYPES


def thumbnail_key(principal: Principal, file: Node) -> str:
    """Return the key of the file's thumbnail, making it on first use.

    NotFound unless the principal may read the file; NoThumbnail.
    """
    file = access.resolve(principal, file, kind=access.FILE)
    if not has_thumbnail(file):
        raise NoThumbnail()
    storage = get_storage()
    if file.thumbnail_key and storage.exists(file.thumbnail_key):
        return file.thumbnail_key
    key = _make(storage, file)
    # Two requests may race to make it; the first one recorded wins.
    previous = file.thumbnail_key
    unchanged = (
        Node.thumbnail_key.is_(None)
        if previous is None
        else Node.thumbnail_key == previous
    )
    won = db.session.execute(
        update(Node)
        .where(Node.id == file.id, unchanged)
        .values(thumbnail_key=key)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not won:
        storage.delete(key)
    db.session.refresh(file)
    return file.thumbnail_key


def _make(storage, file: Node) -> str:
    """Render and store a thumbnail; return its key. Raises NoThumbnail, StorageFull.

    On a full disk nothing is kept and nothing is recorded: the next request
    tries again, and pages showing the thumbnail still load without it.
    """
    try:
        writer = storage.new_writer(file.owner_id)  # kept with the file's bytes
        try:
            _render(storage, file.storage_key, writer)
            writer.commit()
        finally:
            writer.discard()
    except StorageFull as error:
        raise StorageFull(
            "The server's storage is full, so this thumbnail could not be made. "
            "Tell the administrator."
        ) from error
    return writer.key


def _render(storage, key: str, writer) -> None:
    try:
        with storage.open(key) as source, Image.open(source) as image:
            if image.width * image.height > MAX_PIXELS:
                raise NoThumbnail("This image is too large to preview.")
            image.draft("RGB", THUMBNAIL_SIZE)  # JPEG decodes at a lower scale
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail(THUMBNAIL_SIZE)
            if upright.mode not in ("RGB", "RGBA"):
                upright = upright.convert("RGBA")
            encoded = io.BytesIO()  # a few kilobytes
            upright.save(encoded, format="WEBP", quality=80)
            writer.write(encoded.getvalue())
    # Pillow reports some broken files (bad EXIF, say) as SyntaxError.
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
    ) as error:
        raise NoThumbnail("This image could not be read.") from error
