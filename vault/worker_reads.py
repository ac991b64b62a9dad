"""How vault's gunicorn worker (vault/worker.py) reads requests: how much of a
body it waits for in its event loop, and when a streamed body is too slow."""

import time

PREREAD_BYTES = 64 * 1024
# A streamed body slower than this over a whole client timeout is cut off.
MIN_BODY_RATE = 64  # bytes a second


class PatientSocket:
    """The socket the parser reads: it gives up on a body that is too slow.

    Too slow is `timeout` s of silence, or less than MIN_BODY_RATE bytes a
    second over `timeout` s (a drip that only keeps a thread busy). Giving up
    returns b"" (the end of the stream), so the application sees a short body,
    as from a client that went away, and cleans up as it does then. A timeout
    gunicorn sets itself (draining a body it did not read) is honoured the
    usual way, by raising.
    """

    def __init__(self, connection, timeout: float):
        self.connection = connection
        self.timeout = timeout
        self.explicit: float | None = None
        self.window_start = time.monotonic()
        self.window_bytes = 0

    def recv(self, size: int) -> bytes:
        sock = self.connection.sock
        sock.settimeout(self.timeout if self.explicit is None else self.explicit)
        try:
            data = sock.recv(size)
        except TimeoutError:
            if self.explicit is not None:
                raise
            return self.give_up()
        finally:
            sock.settimeout(None)
        if self.explicit is None and self.too_slow(len(data)):
            return self.give_up()
        return data

    def too_slow(self, received: int) -> bool:
        self.window_bytes += received
        now = time.monotonic()
        if now - self.window_start < self.timeout:
            return False
        slow = self.window_bytes < MIN_BODY_RATE * (now - self.window_start)
        self.window_start, self.window_bytes = now, 0
        return slow

    def give_up(self) -> bytes:
        self.connection.stalled = True
        return b""

    def gettimeout(self) -> float | None:
        return self.explicit

    def settimeout(self, value: float | None) -> None:
        self.explicit = value


def body_to_read(head: bytes) -> int | None:
    """Return how many body bytes to read before a thread takes the request.

    None means the body streams to the application (too big to hold); 0 also
    covers a head the parser will refuse; CHUNKED, a chunked body, read in the
    event loop while it stays small (see `chunked_body`).
    """
    lengths, chunked = [], False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"transfer-encoding":
            chunked = True
        elif name == b"content-length":
            lengths.append(value.strip())
    if chunked:
        return CHUNKED
    if not lengths:
        return 0
    if len(lengths) > 1 or not lengths[0].isdigit() or len(lengths[0]) > 18:
        return 0  # malformed: gunicorn's parser answers 400
    length = int(lengths[0])
    return length if length <= PREREAD_BYTES else None


CHUNKED = -1


def chunked_body(data: bytes | bytearray, conn) -> bool:
    """Read on in the chunked body of `conn` from where the last call stopped
    (`chunk_at`), counting its bytes less the framing (`chunk_data`); return
    whether it has all come. A malformed one counts as all come: the parser
    then answers 400."""
    while True:
        line_end = data.find(b"\r\n", conn.chunk_at)
        if line_end < 0:
            return False
        size = bytes(data[conn.chunk_at : line_end]).split(b";")[0].strip()
        try:
            length = int(size, 16)
        except ValueError:
            return True
        if length == 0:
            return data.find(b"\r\n\r\n", line_end) >= 0
        if line_end + 2 + length + 2 > len(data):
            return False  # read this chunk again once it has all come
        conn.chunk_at = line_end + 2 + length + 2
        conn.chunk_data += length
