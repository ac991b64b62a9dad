"""HTTP plumbing shared by the front ends: the request class and security headers."""

import io

from flask import Request, current_app

from vault.services.uploads import BODY_READ_BYTES, DiscardingWriter

APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class VaultRequest(Request):
    # Set by an upload view before it touches the form: where file parts go.
    upload_receiver = None

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
