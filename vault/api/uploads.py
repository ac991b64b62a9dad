"""Resumable uploads: the tus 1.0.0 protocol at /api/v1/uploads.

Core, creation, creation-with-upload, termination, expiration and checksum
(sha1, sha256, md5). Same authentication as the rest of the API. Beyond tus:
the request that completes an upload answers with `Upload-File-Id: <id>`, the
file it became (GET /api/v1/files/<id>). A complete upload keeps answering
HEAD (and an empty PATCH at its end) with `Upload-Offset` equal to its length
and that header until it expires, even if the file was deleted since: a
client that lost the last answer learns it is done, and sends nothing again.
Expired uploads answer 404, exactly like unknown ones and anyone else's.
"""

import base64
import io
import re

from flask import Blueprint, current_app, g, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.http import http_date

from vault import front_ends
from vault.api.blueprint import bp, json_error
from vault.errors import BadRequest, VaultError
from vault.extensions import csrf
from vault.http_uploads import upload_entry
from vault.links import external_url
from vault.services import resumable, resumable_bytes, resumable_lease

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,expiration,checksum"
OFFSET_STREAM = "application/offset+octet-stream"
PREFIX = "/api/v1/uploads"
# Nested in the API: its authentication (auth.py) runs first, for tus too.
tus = Blueprint("tus", __name__, url_prefix="/uploads")
bp.register_blueprint(tus)
csrf.exempt(tus)  # as the API's: Flask-WTF exempts by blueprint, not by parent
# tus errors are the API's JSON; every answer, errors included, carries the
# tus headers (add_tus_headers), also for a URL under /uploads no route matched.
front_ends.register(tus, json_error, path=PREFIX)
# Upload-Metadata carries a name and a few options, not documents.
MAX_METADATA = 8192
_NUMBER = re.compile(r"[0-9]{1,19}")


class TusVersionUnsupported(VaultError):
    status = 412
    code = "tus_version_unsupported"
    message = "This server speaks tus 1.0.0: send the header Tus-Resumable: 1.0.0."


class NotOffsetStream(VaultError):
    status = 415
    code = "unsupported_media_type"
    message = "Send the bytes with Content-Type: application/offset+octet-stream."


@tus.before_request
def require_tus_version():
    # OPTIONS is how a client learns the version, so it need not send one.
    if request.method != "OPTIONS":
        if request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise TusVersionUnsupported()


@tus.after_app_request
def add_tus_headers(response):
    """Every answer under /uploads, errors included, says which tus it speaks."""
    if front_ends.current() == f"{bp.name}.{tus.name}":
        response.headers["Tus-Resumable"] = TUS_VERSION
        if response.status_code == 412:
            response.headers["Tus-Version"] = TUS_VERSION
        for name, value in g.get("tus_headers", {}).items():
            response.headers.setdefault(name, value)
    return response


@tus.route("", methods=["OPTIONS"], endpoint="tus_options")
@tus.route("/<upload_id>", methods=["OPTIONS"], endpoint="tus_upload_options")
def tus_options(upload_id=None):
    headers = {
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": EXTENSIONS,
        "Tus-Checksum-Algorithm": ",".join(resumable_bytes.CHECKSUM_ALGORITHMS),
    }
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    if limit is not None:
        headers["Tus-Max-Size"] = str(limit)
    return _empty(204, headers)


@tus.post("", provide_automatic_options=False)
@upload_entry()
def create_upload():
    with_body = request.mimetype == OFFSET_STREAM
    if not with_body and request.content_length:
        raise NotOffsetStream()
    length = _header_number("Upload-Length")
    metadata = _metadata()
    upload = resumable.create_upload(
        g.api_user,
        length,
        _text(metadata, "filename", required=True),
        folder_id=_text(metadata, "folder_id"),
        path=_text(metadata, "path") or "",
        on_conflict=_text(metadata, "on_conflict") or "rename",
        metadata=metadata,
    )
    # Also on errors from here on: the upload exists, the client may resume it.
    location = external_url("api.tus.upload_status", upload_id=upload.id)
    g.tus_headers = {"Location": location}
    if with_body or length == 0:
        body = _RequestBody(request.stream) if with_body else io.BytesIO()
        return _progress(_append(upload.id, body, offset=0), 201)
    return _progress(resumable.Progress(0, length, upload.expires_at), 201)


@tus.route("/<upload_id>", methods=["HEAD"], provide_automatic_options=False)
def upload_status(upload_id):
    upload = resumable_lease.get_upload(g.api_user, upload_id)
    headers = {
        "Upload-Offset": str(upload.offset),
        "Upload-Length": str(upload.length),
        "Upload-Expires": http_date(upload.expires_at),
        "Cache-Control": "no-store",
    }
    if upload.file_id is not None:
        headers["Upload-File-Id"] = upload.file_id
    if upload.upload_metadata:
        headers["Upload-Metadata"] = ",".join(
            f"{key} {value}" if value else key
            for key, value in upload.upload_metadata.items()
        )
    return _empty(200, headers)


@tus.patch("/<upload_id>", provide_automatic_options=False)
@upload_entry()
def append_to_upload(upload_id):
    if request.mimetype != OFFSET_STREAM:
        raise NotOffsetStream()
    progress = _append(
        upload_id, _RequestBody(request.stream), _header_number("Upload-Offset")
    )
    return _progress(progress, 204)


@tus.delete("/<upload_id>", provide_automatic_options=False)
def terminate_upload(upload_id):
    resumable.terminate(g.api_user, upload_id)
    return _empty(204)


@tus.post("/<upload_id>", provide_automatic_options=False)
@upload_entry()
def override_upload_method(upload_id):
    # tus lets clients behind proxies that drop PATCH or DELETE send a POST.
    method = request.headers.get("X-HTTP-Method-Override", "").upper()
    if method == "PATCH":
        return append_to_upload(upload_id)
    if method == "DELETE":
        return terminate_upload(upload_id)
    raise BadRequest("POST to an upload needs X-HTTP-Method-Override: PATCH or DELETE.")


class _RequestBody:
    """The request body, its transport failures told in the service's terms."""

    def __init__(self, stream):
        self._stream = stream

    def read(self, size: int) -> bytes:
        try:
            return self._stream.read(size)
        except ClientDisconnected as error:
            raise resumable_bytes.IncompleteBody() from error
        except RequestEntityTooLarge as error:
            raise resumable_bytes.BodyTooLong() from error


def _append(upload_id: str, body, offset: int) -> resumable.Progress:
    return resumable.append(
        g.api_user,
        upload_id,
        body,
        offset=offset,
        content_length=request.content_length,
        checksum=_checksum(),
    )


def _progress(progress: resumable.Progress, status: int):
    headers = {"Upload-Offset": str(progress.offset)}
    if progress.expires_at is not None:
        headers["Upload-Expires"] = http_date(progress.expires_at)
    if progress.file_id is not None:
        headers["Upload-File-Id"] = progress.file_id
    return _empty(status, headers)


def _empty(status: int, headers: dict | None = None):
    """A tus answer: status and headers, no body (so no content type either)."""
    response = current_app.response_class(status=status, headers=headers)
    del response.headers["Content-Type"]
    return response


def _header_number(name: str) -> int:
    value = request.headers.get(name)
    if value is None:
        raise BadRequest(f"Send the {name} header.")
    if not _NUMBER.fullmatch(value.strip()) or int(value) >= 2**63:
        raise BadRequest(f"{name} must be a number of bytes.")
    return int(value)


def _metadata() -> dict[str, str | None]:
    """Read Upload-Metadata: `key base64value` pairs, comma separated."""
    header = request.headers.get("Upload-Metadata", "").strip()
    if len(header) > MAX_METADATA:
        raise BadRequest("Upload-Metadata is too long.")
    pairs: dict[str, str | None] = {}
    for pair in header.split(",") if header else []:
        key, _, value = pair.strip().partition(" ")
        value = value.strip()
        if not key or key in pairs or " " in value:
            raise BadRequest(
                "Upload-Metadata must be comma-separated “key base64value” pairs, "
                "each key once."
            )
        _decoded(key, value)
        pairs[key] = value or None
    return pairs


def _decoded(key: str, value: str | None) -> bytes:
    try:
        return base64.b64decode(value or "", validate=True)
    except ValueError as error:  # binascii.Error, or text that is not ASCII
        raise BadRequest(f"Upload-Metadata: {key} is not base64.") from error


def _text(metadata: dict, key: str, required: bool = False) -> str | None:
    if key not in metadata:
        if required:
            raise BadRequest(
                f"Upload-Metadata must carry the {key}, as “{key} <base64>”."
            )
        return None
    try:
        return _decoded(key, metadata[key]).decode()
    except UnicodeDecodeError as error:
        raise BadRequest(f"Upload-Metadata: {key} is not UTF-8 text.") from error


def _checksum() -> resumable_bytes.Checksum | None:
    header = request.headers.get("Upload-Checksum")
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except ValueError as error:  # binascii.Error, or text that is not ASCII
        raise BadRequest("Upload-Checksum must be “algorithm base64digest”.") from error
    return resumable_bytes.checksum(algorithm, digest)
