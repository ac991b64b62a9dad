"""HTTP plumbing shared by the front ends: the request class, body limits and
security headers."""

import io

from flask import Request, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import get_input_stream

from vault.services.uploads import BODY_READ_BYTES, DiscardingWriter
from vault.units import format_size

APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def takes_uploads(view):
    """Mark a view as one that accepts a large body (VAULT_MAX_UPLOAD_BYTES).

    Every other route takes at most VAULT_MAX_BODY_BYTES. A marked view must
    know who is uploading (a session, an API token, an upload-only link) before
    it reads a byte of the body: anyone else gets their answer unread.
    """
    view.takes_uploads = True
    return view


def is_upload_route(req: Request | None = None) -> bool:
    view = current_app.view_functions.get((req or request).endpoint)
    return getattr(view, "takes_uploads", False)


class VaultRequest(Request):
    # Set by an upload view before it touches the form: where file parts go.
    upload_receiver = None

    @property
    def max_content_length(self) -> int | None:
        """The largest body this route takes: the one place that decides."""
        if self._max_content_length is not None:
            return self._max_content_length
        if not current_app:
            return super().max_content_length
        if is_upload_route(self):
            return current_app.config["MAX_UPLOAD_BYTES"]
        return current_app.config["MAX_BODY_BYTES"]

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    @cached_property
    def stream(self):
        limit = self.max_content_length
        if self.content_length is None and limit is not None:
            # Chunked: nothing announced the size, so count what arrives.
            # (Werkzeug's own cap ends a whole read at the limit in silence.)
            return CappedStream(get_input_stream(self.environ), limit)
        # A Content-Length over the limit is refused before a byte is read.
        return get_input_stream(self.environ, max_content_length=limit)

    def _get_file_stream(
        self, total_content_length, content_type, filename=None, content_length=None
    ):
        if self.upload_receiver is None:
            # A file sent to a route that takes none is dropped, never stored.
            return DiscardingWriter()
        return self.upload_receiver(filename=filename)

    def _get_stream_for_parsing(self):
        stream = super()._get_stream_for_parsing()
        if self.mimetype == "multipart/form-data" and isinstance(stream, io.RawIOBase):
            return io.BufferedReader(stream, BODY_READ_BYTES)
        return stream


class CappedStream(io.RawIOBase):
    """A body of unknown length: its bytes up to `limit`, then 413 on one more."""

    def __init__(self, stream, limit: int):
        self._stream, self._limit, self._position = stream, limit, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        # One byte past the limit is enough to know the body is too large.
        data = self._stream.read(min(size, self._limit + 1 - self._position))
        self._position += len(data)
        if self._position > self._limit:
            raise RequestEntityTooLarge()
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def refuse_large_bodies() -> None:
    """Answer 413 to a body announced larger than its route takes, unread."""
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


def too_large_message() -> str:
    if is_upload_route():
        limit = format_size(current_app.config["MAX_UPLOAD_BYTES"])
        return f"The upload is larger than the {limit} limit."
    limit = format_size(current_app.config["MAX_BODY_BYTES"])
    return f"The request is larger than the {limit} this page accepts."


def set_security_headers(response):
    """Add the headers every response carries; a view's own CSP wins."""
    response.headers.setdefault("Content-Security-Policy", APP_CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    # Pages show private data: no copy in shared caches or after signing out.
    response.headers.setdefault("Cache-Control", "no-store")
    if current_app.config["SESSION_COOKIE_SECURE"]:
        response.headers.setdefault(
            "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
        )
    return response
