"""Serving stored bytes: Range, conditional requests and safe headers, in one place.

Behind a proxy that can send files itself (nginx's X-Accel-Redirect, Apache's or
lighttpd's X-Sendfile), the app still checks access and writes every header, and
hands the sending of the bytes, Range included, to the proxy. On a store that
signs URLs (S3, with VAULT_S3_PRESIGNED_DOWNLOADS), the app checks access and
sends an attachment's visitor to the store with a short-lived URL instead.
"""

import codecs
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote

from flask import Flask, Response, current_app, request
from werkzeug.http import parse_date
from zipstream import ZipStream

from vault import download_settings, metrics
from vault.models import Node
from vault.services import filetypes
from vault.services.archives import Entry
from vault.storage import get_storage
from vault.storage.base import LocalPaths
from vault.storage.hashing import READ_CHUNK


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


def init_app(app: Flask) -> None:
    """Check the offload settings, so a mistake stops the app from starting."""
    download_settings.check_offload_config(app.config)
    with app.app_context():
        download_settings.check_presigned_config(app.config, get_storage())


class DownloadCounter(Protocol):
    """Charges what a response sends to a share link; see `send_blob`."""

    # True: the bytes must go out through us, never handed to a proxy, so
    # that what did not leave can be given back.
    exact: bool

    def claim(self, start: int, stop: int, size: int) -> None:
        """Charge the bytes [start, stop) of `size`, or raise (limit reached)."""

    def settle(self, sent: int) -> None:
        """Give back the charge of what was not sent: `sent` bytes left."""


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
        _with_charset(preview_type or file.content_type, file),
    )
    return send_blob(blob, inline=preview_type is not None, counter=counter)


# Enough to tell UTF-8 from a legacy encoding in practice, read in one go.
CHARSET_SNIFF_BYTES = 64 * 1024


def _with_charset(content_type: str, file: Node) -> str:
    """Say `charset=utf-8` on a text type when the file's first bytes are UTF-8.

    Decided per response from at most the first 64 KiB, never the whole file;
    text in another encoding gets no charset (a browser guesses, as before).
    """
    if not content_type.startswith("text/"):
        return content_type
    base = content_type.split(";")[0].strip()
    stop = min(file.size, CHARSET_SNIFF_BYTES)
    head = b"".join(get_storage().read_range(file.storage_key, 0, stop))
    try:
        # A character cut at the end of the window is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=stop == file.size)
    except UnicodeDecodeError:
        return base
    return f"{base}; charset=utf-8"


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
    file stays inert. With a `counter`, every GET is charged for the bytes it
    is about to send, and what it did not send is given back; HEAD, 304 and
    416 cost nothing. Behind a proxy that sends files itself, the bytes are
    handed to it (see `_hand_off`), and with presigned downloads an
    attachment's GET is sent to the store (see `_redirect_to_store`), unless
    the counter must see the bytes go. HEAD is answered here, from what the
    database knows: a URL is signed for one method, and a HEAD needs no bytes.
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
    handoff = _handoff_header(blob.key)
    if handoff is None:
        # A proxy that sends the bytes says this itself; twice would be wrong.
        response.accept_ranges = "bytes"
    if _not_modified(blob, response):
        response.status_code = 304
        return response
    span = _requested_span(blob, response)
    counted = counter if request.method == "GET" else None
    if counted is None or not counted.exact:
        if handoff is not None:
            return _hand_off(response, handoff, counted, span or (0, blob.size), blob)
        if not inline and request.method == "GET" and _presigning():
            return _redirect_to_store(blob, counted, span or (0, blob.size))
    return _with_body(blob, response, span, counted)


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


# One range in its plain form; RFC 9110 lets a server ignore anything else.
_SINGLE_RANGE = re.compile(
    r"bytes= *(?:(\d+) *- *(\d*)|-(\d+)) *", re.IGNORECASE | re.ASCII
)


def _requested_span(blob: Blob, response: Response) -> tuple[int, int] | None:
    """Return the bytes [start, stop) a Range asks for; None for the whole blob.

    An empty span means the range cannot be met (416). Several ranges, other
    units, a malformed header or a stale If-Range get the whole blob. nginx
    decides the same way (with `max_ranges 1`, see docs/deploy/nginx.conf)
    when it serves the bytes for us, which keeps the charge of a link right.
    """
    match = _SINGLE_RANGE.fullmatch(request.headers.get("Range", "").strip())
    if match is None or not _range_applies(response):
        return None
    first, last, suffix = (_position(digits) for digits in match.groups())
    if suffix is not None:
        return max(blob.size - suffix, 0), blob.size
    if last is not None and last < first:
        return first, first  # "bytes=5-3" cannot be met
    return first, min(last + 1 if last is not None else blob.size, blob.size)


# Past any size we store (a BIGINT): a longer number means the same to us.
_BEYOND_ANY_SIZE = 2**63


def _position(digits: str | None) -> int | None:
    """Read a Range position of any length (int() refuses over 4,300 digits)."""
    if not digits:
        return None
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 19 else _BEYOND_ANY_SIZE


def _range_applies(response: Response) -> bool:
    # If-Range: serve a range only if the client's copy is still the current one,
    # compared exactly (RFC 9110 13.1.5: a weak tag or another date never
    # matches), as nginx compares it when it serves the range for us.
    validator = request.headers.get("If-Range", "").strip()
    if not validator:
        return True
    if validator.endswith('"'):
        return validator == response.headers["ETag"]
    return parse_date(validator) == response.last_modified


def _handoff_header(key: str) -> tuple[str, str] | None:
    """Return the header that hands a blob to the proxy, if one is configured."""
    config = current_app.config
    if not (config["ACCEL_REDIRECT"] or config["SENDFILE"]):
        return None
    storage = get_storage()
    if not isinstance(storage, LocalPaths):
        return None  # the proxy cannot read a bucket: the bytes come through us
    # Built from the key alone: keys are made by the server (hex parts, which the
    # storage checks again), so this can only name a blob under the root.
    path = storage.path(key)
    if config["SENDFILE"]:
        return "X-Sendfile", path
    relative = os.path.relpath(path, storage.root)
    return "X-Accel-Redirect", config["ACCEL_REDIRECT"] + relative


def _hand_off(
    response: Response,
    header: tuple[str, str],
    counted: DownloadCounter | None,
    span: tuple[int, int],
    blob: Blob,
) -> Response:
    """Let the proxy send the bytes: an empty body with our headers and its cue.

    The proxy answers Range and If-Range itself, deciding as we do. It cannot
    tell us whether the visitor got every byte, so what it is asked to send is
    charged and never given back; only links without a limit come here (their
    count is for show). A Range we cannot read is charged as the whole file.
    """
    name, value = header
    response.headers[name] = value
    _count_sent(span[1] - span[0])
    if counted is not None:
        counted.claim(*span, blob.size)
    return response


def _presigning() -> bool:
    # init_app made sure the store can sign when this is on.
    return current_app.config["S3_PRESIGNED_DOWNLOADS"]


def _redirect_to_store(
    blob: Blob, counted: DownloadCounter | None, span: tuple[int, int]
) -> Response:
    """Send the visitor to the store for the bytes: a 302 to a presigned URL.

    Only attachments come here: the store answers with the Content-Disposition
    and type we would send, and Range itself (If-Range against its own ETag,
    not our SHA-256), but not with our sandbox CSP, which an inline preview
    needs. As with `_hand_off`, the span
    it is asked to send is charged now, once, and never given back; the URL
    can be used again until it lapses, so only links without a limit come
    here (their count is for show).
    """
    if counted is not None:
        counted.claim(*span, blob.size)
    location = get_storage().presigned_url(
        blob.key,
        disposition=content_disposition("attachment", blob.name),
        content_type=blob.content_type,
        expires=current_app.config["S3_PRESIGNED_EXPIRY_SECONDS"],
    )
    response = Response(status=302)
    response.headers["Location"] = location
    # The URL is a bearer token until it lapses: no cache may keep it, and the
    # store is not told which page (a share link's, with its token) sent us.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    _protect(response)
    return response


def _with_body(
    blob: Blob,
    response: Response,
    span: tuple[int, int] | None,
    counted: DownloadCounter | None,
) -> Response:
    """Answer with the bytes; `counted` is charged for them (see `send_blob`)."""
    start, stop = span or (0, blob.size)
    if span is not None:
        if start >= stop:
            response.status_code = 416
            response.headers["Content-Range"] = f"bytes */{blob.size}"
            return response
        response.status_code = 206
        response.content_range = f"bytes {start}-{stop - 1}/{blob.size}"
    if counted is not None:
        counted.claim(start, stop, blob.size)
        body = get_storage().read_range(blob.key, start, stop)
        response.response = _CountedBody(body, counted)
    elif request.method == "HEAD":
        # No body goes out, so none is opened (on S3 that would be a GET).
        response.response = []
    else:
        response.response = _fast_body(blob.key, start, stop)
    response.direct_passthrough = True
    response.content_length = stop - start
    _count_sent(stop - start)
    return response


def _count_sent(size: int) -> None:
    # What a GET answers with, sent by us or by the proxy we hand it to.
    if request.method == "GET":
        metrics.downloaded(size)


def _fast_body(key: str, start: int, stop: int):
    """The bytes in the form the WSGI server sends fastest.

    A server's `wsgi.file_wrapper` gets an open local file (gunicorn hands it
    to sendfile(2): no copy through Python); elsewhere, and for a store
    without local files, an iterable of the blob's bytes. A counted download
    keeps the iterable (see `_CountedBody`): only it can tell whether every
    byte went out.
    """
    wrapper = request.environ.get("wsgi.file_wrapper")
    storage = get_storage()
    local = isinstance(storage, LocalPaths)
    if wrapper is None or not local:
        return storage.read_range(key, start, stop)
    return wrapper(storage.open_window(key, start, stop), READ_CHUNK)


class _CountedBody:
    """Pass the bytes through; settle the charge with what the server took."""

    def __init__(self, body, counter: DownloadCounter):
        self._body, self._counter = body, counter
        self._sent, self._settled = 0, False

    def __iter__(self):
        for chunk in self._body:
            # Counted as the server takes it: what it sends cannot be unsent,
            # and whether it arrived, only the client knows.
            self._sent += len(chunk)
            yield chunk

    def close(self) -> None:
        # The server closes the body when the client goes away, too.
        if not self._settled:
            self._settled = True
            self._counter.settle(self._sent)


def send_zip(
    name: str, entries: list[Entry], *, counter: DownloadCounter | None = None
) -> Response:
    """Stream a zip of the entries: stored (not compressed), so its size is known.

    Memory stays bounded whatever the total; ZIP64 is used when a file or the
    archive passes 4 GiB. With a `counter`, a GET is charged as one download
    of the archive's bytes, and what it did not send is given back.
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
        counter.claim(0, len(archive), len(archive))
        body = _CountedBody(archive, counter)
    response = Response(body, mimetype="application/zip", direct_passthrough=True)
    response.content_length = len(archive)
    _count_sent(len(archive))
    response.headers["Content-Disposition"] = content_disposition("attachment", name)
    response.headers["Cache-Control"] = "private, no-store"
    _protect(response)
    return response
