"""One request's upload as parts of a multipart upload: cut, then sent beside it.

Two things keep a big upload into S3 fast and its memory flat:

- `PartSender` sends parts on threads of their own while the request's thread
  reads the next one from the client, so the two no longer take turns. Two
  parts in flight: with one, 1 GiB into moto went at about half boto3's
  upload_fileobj (10 in flight); with two, at 0.87-0.93 of it. Each part in
  flight is 8 MiB of the worker's memory, whose bound is 32 MiB.
- `PartBuffers` fills parts into buffers of full size that are used again
  once sent (three: one filling, two in flight). A bytearray grown to 8 MiB
  for every part is reallocated on the way, and glibc, once it has seen
  blocks that large freed, stops handing them back to the system: measured,
  a worker grew by 54 MiB during a 512 MiB upload that way, against 23 MiB
  with reused buffers (one part in flight).
"""

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

# 8 MiB parts hold at most 78 GiB in 10,000 parts; an upload holds
# IN_FLIGHT + 1 of them.
PART_BYTES = 8 * 1024 * 1024
IN_FLIGHT = 2


class PartSender:
    """Sends the parts of one multipart upload beside us, IN_FLIGHT at a time.

    `put_part(number, data)` stores one part; its error comes out of the next
    `send` or `wait`.
    """

    def __init__(self, put_part: Callable[[int, bytearray], None]):
        self.parts = 0  # parts handed over so far
        self._put_part = put_part
        self._pool: ThreadPoolExecutor | None = None
        self._sending: deque[tuple[Future, bytearray]] = deque()

    def send(self, data: bytearray) -> bytearray | None:
        """Send the next part; return a sent part's buffer, free again, if any.

        The caller must not touch `data` until it comes back this way.
        """
        previous = self._oldest() if len(self._sending) >= IN_FLIGHT else None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="s3-part")
        self.parts += 1
        future = self._pool.submit(self._put_part, self.parts, data)
        self._sending.append((future, data))
        return previous

    def _oldest(self) -> bytearray:
        future, data = self._sending.popleft()
        future.result()
        return data

    def wait(self) -> None:
        """Wait until every part sent is stored; raise the first error."""
        while self._sending:
            self._oldest()

    def close(self) -> None:
        """Wait for the parts in flight, whatever their fate; end the threads."""
        while self._sending:
            self._sending.popleft()[0].exception()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class PartBuffers:
    """Cuts a stream into parts of PART_BYTES; `send(part)` takes each full one.

    The first part grows as bytes come (most uploads are smaller than a part,
    and need no more); later ones are filled into buffers of full size, which
    `send` returns once they are free again.
    """

    def __init__(self, send: Callable[[bytearray], bytearray | None]):
        self._send = send
        self._current = bytearray()
        self._filled = 0  # the bytes of _current in use

    def add(self, data: bytes) -> None:
        view = memoryview(data).cast("B")
        while view:
            take = min(len(view), PART_BYTES - self._filled)
            if len(self._current) == PART_BYTES:  # a buffer of full size
                self._current[self._filled : self._filled + take] = view[:take]
            else:  # the first part, growing
                self._current += view[:take]
            self._filled += take
            view = view[take:]
            if self._filled == PART_BYTES:
                free = self._send(self._current)
                self._current = free if free is not None else bytearray(PART_BYTES)
                self._filled = 0

    def rest(self) -> bytearray:
        """Return the bytes not sent yet (the last part); call once, at the end."""
        del self._current[self._filled :]
        return self._current
