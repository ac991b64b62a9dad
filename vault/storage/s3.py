"""Blobs in an S3-compatible bucket (AWS S3, MinIO, Garage, Ceph RGW, B2, ...).

A blob's object key is "<prefix>/<namespace>/<name>", the key made on the
server as on local disk. What fsck moves aside goes under
"<prefix>/<namespace>/lost+found/" (single objects) or "<prefix>/lost+found/"
(whole namespaces). Credentials, region and endpoint come from the standard
AWS settings (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
AWS_ENDPOINT_URL_S3); VAULT_S3_PATH_STYLE=true addresses the bucket in the
path, as MinIO, Garage and Ceph usually want.
"""

import hashlib
import os
import secrets
import tempfile
from collections.abc import Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from vault.storage import s3_scan
from vault.storage.base import LOST_FOUND, StoredEntry, check_key_part
from vault.storage.hashing import READ_CHUNK
from vault.storage.read_ahead import ReadAhead
from vault.storage.s3_writers import (
    STATE_PREFIX,
    Multipart,
    S3BlobWriter,
    S3FinishedUpload,
    S3ResumableWriter,
    state_name,
)

_MISSING = ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


def is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _MISSING


class S3Storage:
    def __init__(self, bucket: str, prefix: str = "", **client_options):
        self.name = bucket
        self.prefix = prefix.strip("/")
        self._client_options = client_options
        self._client = None
        self._client_pid = None

    @classmethod
    def from_config(cls, bucket: str, prefix: str, config) -> "S3Storage":
        path_style = config.get("S3_PATH_STYLE", False) in (True, "true", "1")
        return cls(
            bucket,
            prefix,
            region_name=os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION"),
            config=Config(
                s3={"addressing_style": "path" if path_style else "auto"},
                # botocore would sign a presigned URL with SigV2 for a custom
                # endpoint; AWS regions opened since 2014 refuse SigV2.
                signature_version="s3v4",
                retries={"mode": "standard"},
                max_pool_connections=32,
            ),
        )

    @property
    def client(self):
        # One client per process: gunicorn forks its workers after start.
        if self._client is None or self._client_pid != os.getpid():
            self._client = boto3.session.Session().client("s3", **self._client_options)
            self._client_pid = os.getpid()
        return self._client

    # Keys and objects

    def object_key(self, key: str) -> str:
        namespace, _, name = key.partition("/")
        parts = (self.prefix, check_key_part(namespace), check_key_part(name))
        return "/".join(part for part in parts if part)

    def _area(self, *parts: str) -> str:
        """The object key prefix of a namespace or of one of its areas."""
        return "/".join(part for part in (self.prefix, *parts) if part) + "/"

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=self.object_key(key), Body=data)

    def new_writer(self, namespace: str) -> S3BlobWriter:
        return self.writer_at(f"{namespace}/{secrets.token_hex(16)}")

    def writer_at(self, key: str) -> S3BlobWriter:
        return S3BlobWriter(self, key)

    def _head(self, key: str) -> dict:
        try:
            return self.client.head_object(Bucket=self.name, Key=self.object_key(key))
        except ClientError as error:
            if is_missing(error):
                raise FileNotFoundError(key) from None
            raise

    def size(self, key: str) -> int:
        return self._head(key)["ContentLength"]

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except FileNotFoundError:
            return False
        return True

    def _get(self, key: str, **options):
        try:
            return self.client.get_object(
                Bucket=self.name, Key=self.object_key(key), **options
            )["Body"]
        except ClientError as error:
            if is_missing(error):
                raise FileNotFoundError(key) from None
            raise

    def read_range(self, key: str, start: int, stop: int) -> "ObjectRange":
        if start >= stop:
            self._head(key)  # a missing blob still fails now
            return ObjectRange(None)
        body = self._get(key, Range=f"bytes={start}-{stop - 1}")
        return ObjectRange(body, ahead=stop - start > READ_CHUNK)

    def presigned_url(
        self, key: str, *, disposition: str, content_type: str, expires: int
    ) -> str:
        """Sign a GetObject whose answer carries our name and type (no request).

        The signature covers these response overrides and the expiry, so the
        holder can change neither. The bytes cannot go into a shared cache
        under a URL that is a bearer token.
        """
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.name,
                "Key": self.object_key(key),
                "ResponseContentDisposition": disposition,
                "ResponseContentType": content_type,
                "ResponseCacheControl": "private, no-store",
            },
            ExpiresIn=expires,
        )

    def open(self, key: str):
        """Copy a blob into a temporary file (seekable, as Pillow wants)."""
        copy = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
        for chunk in ObjectRange(self._get(key)):
            copy.write(chunk)
        copy.seek(0)
        return copy

    def sha256(self, key: str, progress=None) -> str:
        digest = hashlib.sha256()
        for chunk in ObjectRange(self._get(key)):
            digest.update(chunk)
            if progress is not None:
                progress()
        return digest.hexdigest()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.name, Key=self.object_key(key))

    def delete_namespace(self, namespace: str) -> None:
        area = self._area(check_key_part(namespace))
        s3_scan.abort_uploads(self, area)
        s3_scan.delete_objects(self, s3_scan.object_keys(self, area))

    # Resumable uploads: see s3_writers for the states

    def _state_key(self, namespace: str, upload_id: str, offset: int) -> str:
        name = state_name(check_key_part(upload_id), offset)
        return self._area(check_key_part(namespace)) + name

    def get_state(self, namespace: str, upload_id: str, offset: int):
        key = self._state_key(namespace, upload_id, offset)
        try:
            answer = self.client.get_object(Bucket=self.name, Key=key)
        except ClientError as error:
            if is_missing(error):
                raise FileNotFoundError(key) from None
            raise
        return answer["Body"].read(), answer["Metadata"]

    def put_state(self, namespace, upload_id, offset, tail: bytes, meta) -> None:
        key = self._state_key(namespace, upload_id, offset)
        self.client.put_object(Bucket=self.name, Key=key, Body=tail, Metadata=meta)

    def _states(self, namespace: str, upload_id: str) -> list[str]:
        area = self._area(check_key_part(namespace))
        begins = area + STATE_PREFIX + check_key_part(upload_id) + "."
        return list(s3_scan.object_keys(self, begins))

    def delete_states(self, namespace: str, upload_id: str, keep: str = "") -> None:
        stale = [key for key in self._states(namespace, upload_id) if key != keep]
        s3_scan.delete_objects(self, stale)

    def create_resumable(self, namespace: str, upload_id: str) -> None:
        multipart = Multipart(self, self.object_key(f"{namespace}/{upload_id}"))
        multipart.start()
        meta = {"multipart": multipart.upload_id, "parts": "0"}
        try:
            self.put_state(namespace, upload_id, 0, b"", meta)
        except BaseException:
            multipart.abort()
            raise

    def append_resumable(
        self, namespace: str, upload_id: str, offset: int
    ) -> S3ResumableWriter:
        writer = S3ResumableWriter(self, namespace, upload_id, offset)
        # Only the counted offset's state matters now: the others are either
        # older or were never counted.
        self.delete_states(
            namespace, upload_id, keep=self._state_key(namespace, upload_id, offset)
        )
        return writer

    def finish_resumable(
        self, namespace, upload_id, length, sha256=None, progress=None
    ) -> S3FinishedUpload:
        return S3FinishedUpload(self, namespace, upload_id, length, sha256, progress)

    def delete_resumable(self, namespace: str, upload_id: str) -> None:
        area = self._area(check_key_part(namespace))
        s3_scan.abort_uploads(self, area + check_key_part(upload_id))
        self.delete_states(namespace, upload_id)

    # fsck

    def scan(self) -> Iterator[StoredEntry]:
        return s3_scan.scan(self)

    def move_to_lost_found(self, namespace: str | None, name: str | None = None) -> str:
        return s3_scan.move_to_lost_found(self, namespace, name)

    def drop_partial(self, namespace: str, name: str) -> None:
        """Abort a blob's unfinished multipart upload: its parts are no file."""
        s3_scan.abort_partial(self, namespace, name)
        return None

    def move_resumable_to_lost_found(self, namespace: str, upload_id: str) -> str:
        states = self._states(namespace, upload_id)
        if not states:
            raise FileNotFoundError(upload_id)
        s3_scan.abort_uploads(self, self._area(namespace) + upload_id)
        for key in states:
            target = s3_scan.move_object(self, key, self._area(namespace, LOST_FOUND))
        return target

    def lost_found_usage(self) -> tuple[int, int]:
        return s3_scan.lost_found_usage(self)


class ObjectRange:
    """Iterate over a GetObject body in large pieces; closing it ends the stream.

    With `ahead`, the body is read on a thread of its own, a piece or two
    ahead, so that the store and the client are not waited for in turn (see
    read_ahead); a range of one piece or less is read in line.
    """

    def __init__(self, body, ahead: bool = True):
        self._body = body
        self._read_ahead = ahead
        self._ahead: ReadAhead | None = None

    def __iter__(self) -> Iterator[bytes]:
        if self._body is None:
            return
        if not self._read_ahead:
            try:
                yield from self._body.iter_chunks(READ_CHUNK)
            finally:
                self._body.close()
            return
        self._ahead = ReadAhead(self._body.iter_chunks(READ_CHUNK), self._body.close)
        try:
            yield from self._ahead
        finally:
            self._ahead.close()

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.close()  # its thread closes the body
        elif self._body is not None:
            self._body.close()
