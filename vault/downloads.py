"""Serving stored bytes: Range, conditional requests and safe headers, in one place."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote

from flask import Response, request
from zipstream import ZipStream

from vault.models import Node
from vault.services import filetypes
from vault.services.archives import Entry
from vault.storage import get_storage


@dataclass
class Blob:
    key: str
    size: int
    etag: str
    modified: datetime
    name: str
    content_type: str


def content_disposition(kind: str, name: str) -> str:
    """Build an RFC 6266 header: an ASCII fallback plus the exact UTF-8 name."""
    fallback = "".join(
        char if 32 <= ord(char) < 127 and char not in '"\\' else "_" for char in name
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class DownloadCounter(Protocol):
    """Counts a download for a share link; see `send_blob`."""

    def claim(self) -> None:
        """Count one download, or raise (the link is used up)."""

    def release(self) -> None:
        """Give the download back: the transfer did not complete."""


def send_stored_file(
    file: Node, *, inline: bool = False, counter: DownloadCounter | None = None
) -> Response:
    """Answer with a file's bytes; inline only for types that cannot run script."""
    preview_type = (
        filetypes.inline_type(file.name, file.content_type) if inline else None
    )
    blob = Blob(
        file.storage_key,
        file.size,
        file.sha256,
        file.created_at,  # the bytes never change in place
        file.name,
        preview_type or file.content_type,
    )
    return send_blob(blob, inline=preview_type is not None, counter=counter)


def send_thumbnail(file: Node, key: str) -> Response:
    """Answer with a file's thumbnail (a WebP made by services/thumbnails.py)."""
    size = get_storage().size(key)
    blob = Blob(key, size, key, file.created_at, f"{file.name}.webp", "image/webp")
    return send_blob(blob, inline=True)


def send_blob(
    blob: Blob, *, inline: bool = False, counter: DownloadCounter | None = None
) -> Response:
    """Answer with a blob, honouring Range, If-None-Match and friends.

    Everything is served under a sandbox CSP and nosniff, so even a mislabelled
    file stays inert. With a `counter`, a GET for the whole content counts as
    a download, given back if the transfer stops before the end; parts (a
    resumed download, a video seek) do not count again.
    """
    response = Response(status=200, mimetype=None, content_type=blob.content_type)
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = content_disposition(
        disposition, blob.name
    )
    _protect(response)
    response.headers["Cache-Control"] = "private, no-cache"
    response.set_etag(blob.etag)
    response.last_modified = blob.modified.replace(tzinfo=UTC, microsecond=0)
    response.accept_ranges = "bytes"
    if _not_modified(blob, response):
        response.status_code = 304
        return response
    return _with_body(blob, response, counter)


def _protect(response: Response) -> None:
    # Our own viewer page may frame a preview; nobody else may.
    response.headers["Content-Security-Policy"] = "sandbox; frame-ancestors 'self'"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["X-Content-Type-Options"] = "nosniff"


def _not_modified(blob: Blob, response: Response) -> bool:
    if request.if_none_match:
        return request.if_none_match.contains(blob.etag)
    since = request.if_modified_since
    return since is not None and response.last_modified <= since


def _with_body(
    blob: Blob, response: Response, counter: DownloadCounter | None = None
) -> Response:
    start, stop = 0, blob.size
    requested = request.range if _range_applies(blob, response) else None
    if requested is not None:
        span = requested.range_for_length(blob.size)
        if span is None and len(requested.ranges) == 1:
            response.status_code = 416
            response.headers["Content-Range"] = f"bytes */{blob.size}"
            return response
        if span is not None:
            # Several ranges in one request are rare; the whole file answers them.
            start, stop = span
            response.status_code = 206
            response.content_range = f"bytes {start}-{stop - 1}/{blob.size}"
    body = get_storage().read_range(blob.key, start, stop)
    whole = start == 0 and stop == blob.size
    if counter is not None and whole and request.method == "GET":
        counter.claim()
        body = _CountedBody(body, stop - start, counter)
    response.response = body
    response.direct_passthrough = True
    response.content_length = stop - start
    return response


class _CountedBody:
    """Pass the bytes through; release the claimed download if they stop short."""

    def __init__(self, body, length: int, counter: DownloadCounter):
        self._body, self._left, self._counter = body, length, counter
        self._settled = False

    def __iter__(self):
        for chunk in self._body:
            self._left -= len(chunk)
            yield chunk
        self._settled = self._left <= 0

    def close(self) -> None:
        # The server closes the body when the client goes away, too.
        if not self._settled:
            self._settled = True
            self._counter.release()


def _range_applies(blob: Blob, response: Response) -> bool:
    # If-Range: serve a range only if the client's copy is still the current one.
    if_range = request.if_range
    if if_range.etag is not None:
        return if_range.etag == blob.etag
    if if_range.date is not None:
        return response.last_modified <= if_range.date
    return True


def send_zip(
    name: str, entries: list[Entry], *, counter: DownloadCounter | None = None
) -> Response:
    """Stream a zip of the entries: stored (not compressed), so its size is known.

    Memory stays bounded whatever the total; ZIP64 is used when a file or the
    archive passes 4 GiB. With a `counter`, a GET counts as one download, given
    back if the transfer stops before the end.
    """
    archive = ZipStream(sized=True)
    storage = get_storage()
    for entry in entries:
        if entry.node.is_folder:
            archive.add(None, entry.path + "/")
        else:
            data = storage.read_range(entry.node.storage_key, 0, entry.node.size)
            archive.add(data, entry.path, size=entry.node.size)
    body = archive
    if counter is not None and request.method == "GET":
        counter.claim()
        body = _CountedBody(archive, len(archive), counter)
    response = Response(body, mimetype="application/zip", direct_passthrough=True)
    response.content_length = len(archive)
    response.headers["Content-Disposition"] = content_disposition("attachment", name)
    response.headers["Cache-Control"] = "private, no-store"
    _protect(response)
    return response
