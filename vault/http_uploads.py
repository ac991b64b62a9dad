"""Where the file parts of a multipart body go: Werkzeug's side of an upload.

Werkzeug's parser asks the request for a stream per file part; these adapt
the receiver a view put on the request (vault/services/uploads.py), which
knows nothing of Werkzeug, to what the parser expects.
"""

import io

from flask import Request

from vault.services.uploads import BODY_READ_BYTES

# How much of a multipart body may be framing and form fields rather than file
# bytes: an announced length beyond the free space by more than this is refused
# before a byte is read; nearer the limit, the byte count decides.
MULTIPART_FRAMING = 1024 * 1024


def file_part_stream(req: Request, filename: str | None):
    """Return where Werkzeug writes the bytes of one multipart file part."""
    receiver = req.upload_receiver
    if receiver is None:
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
