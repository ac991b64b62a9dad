"""Serving stored files: Range, conditional requests and safe headers, in one place."""

from datetime import UTC
from urllib.parse import quote

from flask import Response, request

from vault.models import File
from vault.services import filetypes
from vault.storage import get_storage


def content_disposition(kind: str, name: str) -> str:
    """Build an RFC 6266 header: an ASCII fallback plus the exact UTF-8 name."""
    fallback = "".join(
        char if 32 <= ord(char) < 127 and char not in '"\\' else "_" for char in name
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def send_stored_file(file: File, *, inline: bool = False) -> Response:
    """Answer with a file's bytes, honouring Range, If-None-Match and friends.

    Inline is granted only to types that cannot run script; everything is served
    under a sandbox CSP and nosniff, so even a mislabelled file stays inert.
    """
    preview_type = (
        filetypes.inline_type(file.name, file.content_type) if inline else None
    )
    response = Response(
        status=200, mimetype=None, content_type=preview_type or file.content_type
    )
    disposition = "inline" if preview_type else "attachment"
    response.headers["Content-Disposition"] = content_disposition(
        disposition, file.name
    )
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    response.set_etag(file.etag)
    response.last_modified = file.created_at.replace(tzinfo=UTC, microsecond=0)
    response.accept_ranges = "bytes"
    if _not_modified(file, response):
        response.status_code = 304
        return response
    return _with_body(file, response)


def _not_modified(file: File, response: Response) -> bool:
    if request.if_none_match:
        return request.if_none_match.contains(file.etag)
    since = request.if_modified_since
    return since is not None and response.last_modified <= since


def _with_body(file: File, response: Response) -> Response:
    start, stop = 0, file.size
    requested = request.range if _range_applies(file, response) else None
    if requested is not None:
        span = requested.range_for_length(file.size)
        if span is None and len(requested.ranges) == 1:
            response.status_code = 416
            response.headers["Content-Range"] = f"bytes */{file.size}"
            return response
        if span is not None:
            # Several ranges in one request are rare; the whole file answers them.
            start, stop = span
            response.status_code = 206
            response.content_range = f"bytes {start}-{stop - 1}/{file.size}"
    response.response = get_storage().read_range(file.storage_key, start, stop)
    response.direct_passthrough = True
    response.content_length = stop - start
    return response


def _range_applies(file: File, response: Response) -> bool:
    # If-Range: serve a range only if the client's copy is still the current one.
    if_range = request.if_range
    if if_range.etag is not None:
        return if_range.etag == file.etag
    if if_range.date is not None:
        return response.last_modified <= if_range.date
    return True
