"""SHA-256 of a stream, computed on a second thread while the bytes flow.

hashlib releases the GIL while it hashes a large buffer, so a helper thread
hashes one batch while the request's thread reads and writes the next. On a
CPU without SHA instructions SHA-256 runs at a few hundred MB/s: hashed in
line, it would cap every upload at that speed.
"""

import hashlib
import queue
import threading

# A stream is hashed in line up to this size: for small uploads a thread
# would cost more than it saves.
INLINE_BYTES = 4 * 1024 * 1024
# Pieces are handed over in batches of about this size, at most QUEUED
# batches waiting: with the batch being filled and the one being hashed, an
# upload holds at most 4 MiB for hashing.
BATCH_BYTES = 1024 * 1024
QUEUED = 2
# Files are read for hashing in pieces this large.
READ_CHUNK = 1024 * 1024


class StreamHash:
    """A SHA-256 object whose updates run beside the caller once it is large.

    Reading the result (`hexdigest`, `copy`) waits for every byte given so
    far. Call `close` when the stream is abandoned: it ends the thread.
    """

    def __init__(self, start=None):
        self._hash = start if start is not None else hashlib.sha256()
        self._inline_left = INLINE_BYTES
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None

    def update(self, data: bytes) -> None:
        if self._thread is None:
            if len(data) <= self._inline_left:
                self._inline_left -= len(data)
                self._hash.update(data)
                return
            self._start()
        # The caller may reuse a mutable buffer; the thread needs its own bytes.
        self._batch.append(data if isinstance(data, bytes) else bytes(data))
        self._batch_bytes += len(data)
        if self._batch_bytes >= BATCH_BYTES:
            self._hand_over()

    def hexdigest(self) -> str:
        self._settle()
        return self._hash.hexdigest()

    def copy(self):
        """Return a plain hashlib object holding the state so far."""
        self._settle()
        return self._hash.copy()

    def close(self) -> None:
        self._settle()

    def _start(self) -> None:
        self._queue = queue.Queue(QUEUED)
        self._thread = threading.Thread(
            target=self._work, args=(self._queue,), name="sha256", daemon=True
        )
        self._thread.start()

    def _work(self, batches: queue.Queue) -> None:
        while (batch := batches.get()) is not None:
            for piece in batch:
                self._hash.update(piece)

    def _hand_over(self) -> None:
        self._queue.put(self._batch)
        self._batch, self._batch_bytes = [], 0

    def _settle(self) -> None:
        """Wait until every byte given is hashed; the thread ends."""
        if self._thread is None:
            return
        if self._batch:
            self._hand_over()
        self._queue.put(None)
        self._thread.join()
        # More bytes start a new thread; the hash is the caller's meanwhile.
        self._thread = self._queue = None


class Tally:
    """What a blob writer learns of its bytes on the way: size, head, SHA-256.

    The head (the first `head_bytes`) is kept for content sniffing.
    """

    def __init__(self, head_bytes: int):
        self.size = 0
        self.head = b""
        self._head_bytes = head_bytes
        self._hash = StreamHash()

    def add(self, data: bytes) -> None:
        if len(self.head) < self._head_bytes:
            self.head += bytes(data[: self._head_bytes - len(self.head)])
        self._hash.update(data)
        self.size += len(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        self._hash.close()


def file_sha256(file, progress=None) -> str:
    """Return the SHA-256 of an open file from its start, read in large pieces.

    `progress` is called after each piece (a long read may need to say so).
    """
    file.seek(0)
    digest = hashlib.sha256()
    while chunk := file.read(READ_CHUNK):
        digest.update(chunk)
        if progress is not None:
            progress()
    return digest.hexdigest()
