"""Bytes in over HTTP: the one entry point of every upload route.

A multipart upload streams each file part into storage while Werkzeug parses
the body. That is only safe in one order: know who is uploading before a byte
is read, put their receiver on the request, and only then let anything parse
the form (a CSRF check does). Parsed any earlier, the parts would have nowhere
to go. `upload_entry` keeps that order for every upload route, and a part that
meets an upload route without a receiver is an error, never dropped in silence.
"""

import functools
import io
from collections.abc import Callable

from flask import Request, current_app, request
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms.validators import ValidationError

from vault import metrics
from vault.extensions import csrf as csrf_protection
from vault.services.uploads import BODY_READ_BYTES, UploadReceiver

# How much of a multipart body may be framing and form fields rather than file
# bytes: an announced length beyond the free space by more than this is refused
# before a byte is read; nearer the limit, the byte count decides.
MULTIPART_FRAMING = 1024 * 1024

# The CSRF checks an upload route may ask for (see upload_entry).
SITE_FORM = "site form"
LINK_FORM = "link form"


class UploadReceiverMissing(RuntimeError):
    """A file part reached an upload route before a receiver was in place.

    A bug, not a client error: something parsed the body before `upload_entry`
    ran (a hook, the global CSRF check), or a route that reads a raw body
    parsed it as a form. Storing nothing and answering as if it worked would
    hide it, so the request fails (500, logged).
    """


class _Dropping:
    """The receiver of a request that will store no files: parts go nowhere."""


# A route that refused its uploader, or whose receiver has closed: whatever
# still parses the form (a page rendered for the refusal) gets nothing stored.
DROP_FILES = _Dropping()


def upload_entry(
    receiver_for: Callable[..., UploadReceiver] | None = None,
    *,
    csrf: str | None = None,
):
    """Make a view an upload route: the one way bytes come in over HTTP.

    The route takes bodies up to VAULT_MAX_UPLOAD_BYTES (any other route,
    VAULT_MAX_BODY_BYTES) and is exempt from the global CSRF check, whose
    parsing of the form would come before the receiver. Before a byte is read,
    `receiver_for(**view_args)` says who is uploading, raising for anyone else
    (or a decorator above this one, like login_required, has turned them
    away), and returns their receiver; it is put on the request, CSRF is
    checked as `csrf` says, and the view is called with the receiver first.

    `csrf` is SITE_FORM for a form on our own pages (the check every other
    form gets: the token and, over HTTPS, a Referer from this site), LINK_FORM
    for a share page's form (the token only: share pages send no Referer), or
    None where the caller is not a browser form (the API checks its own
    header). Without `receiver_for` the view reads a raw body itself (tus), and
    its caller must be known before it runs (the API's authentication hook).
    """
    if csrf not in (None, SITE_FORM, LINK_FORM):
        raise ValueError(f"Unknown CSRF check for an upload route: {csrf!r}")
    if csrf is not None and receiver_for is None:
        # A raw body is no browser form: nothing would ever check the token.
        raise ValueError("A CSRF check needs a form, so a receiver for its files.")

    def decorate(view):
        @functools.wraps(view)
        def entry(*args, **view_args):
            # With metrics on, the upload counts as active while it runs, and
            # the body bytes it read are counted when it ends.
            with metrics.receiving(request.environ.get("wsgi.input")):
                if receiver_for is None:
                    return view(*args, **view_args)
                return _receive(view, receiver_for, csrf, view_args)

        entry.takes_uploads = True
        return csrf_protection.exempt(entry)

    return decorate


def _receive(view, receiver_for, csrf: str | None, view_args: dict):
    try:
        receiver = receiver_for(**view_args)
    except BaseException:
        request.upload_receiver = DROP_FILES
        raise
    try:
        with receiver:
            request.upload_receiver = receiver
            _check_csrf(csrf)
            return view(receiver, **view_args)
    finally:
        request.upload_receiver = DROP_FILES


def _check_csrf(csrf: str | None) -> None:
    if csrf == SITE_FORM:
        csrf_protection.protect()
    elif csrf == LINK_FORM:
        field = current_app.config["WTF_CSRF_FIELD_NAME"]
        try:
            validate_csrf(request.form.get(field))
        except ValidationError as error:
            raise CSRFError(error.args[0]) from error


def is_upload_route(req: Request | None = None) -> bool:
    view = current_app.view_functions.get((req or request).endpoint)
    return getattr(view, "takes_uploads", False)


def file_part_stream(req: Request, filename: str | None):
    """Return where Werkzeug writes the bytes of one multipart file part."""
    receiver = req.upload_receiver
    if receiver is DROP_FILES:
        return DiscardingWriter()
    if receiver is None:
        if is_upload_route(req):
            raise UploadReceiverMissing(
                f"A file part reached {req.endpoint} before its receiver was in "
                "place: the body was parsed outside upload_entry."
            )
        # A file sent to a route that takes none is dropped, never stored.
        return DiscardingWriter()
    return PartStream(receiver.open_file(filename or ""))


def buffered_body(req: Request, stream):
    """Read a multipart body in large pieces: Werkzeug's parser asks for little."""
    if req.mimetype == "multipart/form-data" and isinstance(stream, io.RawIOBase):
        return io.BufferedReader(stream, BODY_READ_BYTES)
    return stream


def received_files(parts) -> list[tuple[str, object]]:
    """Return (name, writer) for each received file part, for the services."""
    return [(part.filename or "", part.stream.writer) for part in parts]


class PartStream:
    """Werkzeug's file stream for one part, writing into a service's writer."""

    def __init__(self, writer):
        self.writer = writer

    def write(self, data: bytes) -> int:
        return self.writer.write(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        # Werkzeug rewinds a finished part; nothing reads it back.
        return 0

    def close(self) -> None:
        # Werkzeug closes the parts as the request ends: what was not stored
        # by then is dropped (a no-op once committed).
        self.writer.discard()


class DiscardingWriter:
    """Swallows the bytes of a part we will not store, so they never hit disk."""

    def write(self, data: bytes) -> int:
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def close(self) -> None:
        pass
