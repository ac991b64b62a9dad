"""SHA-256 states of resumable uploads, kept in this process between requests.

A finished upload's file hash covers all its bytes. A request appending to an
upload where this process last counted it goes on hashing from there, so the
last request has the hash at hand and the bytes are not read again. When
another process took a request in between (the offsets then differ) or this
one restarted, the finished upload is read once to hash it.
"""

import threading
from collections import OrderedDict

from vault.storage.hashing import StreamHash

# More than the uploads in flight on a busy server; a state is ~200 bytes.
KEPT = 1024

_states: OrderedDict = OrderedDict()
_lock = threading.Lock()


def resume(upload_id: str, offset: int) -> StreamHash | None:
    """Return the hash of an upload's first `offset` bytes, if this process has it."""
    if offset == 0:
        return StreamHash()
    with _lock:
        kept = _states.get(upload_id)
    if kept is None or kept[0] != offset:
        return None
    return StreamHash(kept[1].copy())


def remember(upload_id: str, offset: int, digest: StreamHash) -> None:
    """Keep the hash of an upload's first `offset` bytes (counted, durable)."""
    state = digest.copy()
    with _lock:
        _states[upload_id] = (offset, state)
        _states.move_to_end(upload_id)
        while len(_states) > KEPT:
            _states.popitem(last=False)


def forget(upload_id: str) -> None:
    with _lock:
        _states.pop(upload_id, None)
