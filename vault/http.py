"""HTTP plumbing shared by the front ends: the request class, body limits, the
connection after an early refusal, and security headers. Upload routes and
where their file parts go: vault/http_uploads.py."""

import io

from flask import Request, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import get_input_stream

from vault.http_uploads import buffered_body, file_part_stream, is_upload_route
from vault.units import format_size

APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class VaultRequest(Request):
    # Where file parts go: set by `http_uploads.upload_entry` only.
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
        return file_part_stream(self, filename)

    def _get_stream_for_parsing(self):
        return buffered_body(self, super()._get_stream_for_parsing())


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


class CloseAfterUnreadBody:
    """WSGI middleware: a request answered before its body was read to the end
    (an early 401, 404, 413, 415 or 507) closes its connection.

    The unread rest of the body is still on the socket: a server that kept the
    connection open would read it as the next request, or drain it for as long
    as the client cares to send. gunicorn drains up to 64 KiB after the answer
    and then closes the connection, but only after announcing keep-alive, so a
    client reusing the connection races the close (measured: 14 of 20 requests
    that followed a refused 70 KB to 1 MB body failed). gunicorn drops a
    Connection header set by the application (hop-by-hop), so we ask its
    response object to close, which makes it answer with "Connection: close".
    Werkzeug's development server closes every connection anyway.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"] = TrackedBody(environ)

        def start(status, headers, exc_info=None):
            if not body.finished:
                _force_close(start_response)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def _force_close(start_response) -> None:
    # gunicorn's start_response is a method of its Response; force_close() is
    # what gunicorn itself calls to end a connection after this answer.
    force_close = getattr(
        getattr(start_response, "__self__", None), "force_close", None
    )
    if callable(force_close):
        force_close()


class TrackedBody:
    """wsgi.input, counting what is read: has the body been read to its end?

    `received` is how many bytes were read (upload metrics count it).
    """

    def __init__(self, environ):
        self._stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH", "")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        self._left = None if chunked else int(length) if length.isdigit() else 0
        self._ended = False
        self.received = 0
        self.metered = False  # an upload route is counting it (vault/metrics.py)

    @property
    def finished(self) -> bool:
        return self._ended or (self._left is not None and self._left <= 0)

    def _count(self, data: bytes, size) -> bytes:
        self.received += len(data)
        if self._left is not None:
            self._left -= len(data)
        if not data and size != 0:
            self._ended = True
        return data

    def read(self, size=-1):
        return self._count(self._stream.read(size), size)

    def readline(self, size=-1):
        return self._count(self._stream.readline(size), size)

    def __iter__(self):
        return iter(self.readline, b"")


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
