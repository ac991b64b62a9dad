"""Looking at what users would see: rows, blobs, pages, API errors; and the
request bodies tests stream in."""

import html
import io
import os
import re
import threading
import time

from sqlalchemy import func, select, update

from tests.conftest import csrf_token_from
from vault.extensions import db
from vault.models import Node, User
from vault.services import tree
from vault.storage import get_storage
from vault.storage.base import LocalPaths, StoredEntry


def nodes(app) -> list[Node]:
    """Every file and folder row, trashed or not."""
    with app.app_context():
        return list(db.session.scalars(select(Node).order_by(Node.name)))


def live_nodes(app) -> list[Node]:
    return [node for node in nodes(app) if node.trashed_at is None]


def node(app, node_id: str) -> Node | None:
    with app.app_context():
        return db.session.get(Node, node_id)


def set_quota(app, user, quota: int | None) -> None:
    """Give a user a quota straight in the database (None is unlimited)."""
    with app.app_context():
        db.session.execute(
            update(User).where(User.id == user.id).values(quota_bytes=quota)
        )
        db.session.commit()


def used_bytes(app, user) -> int:
    with app.app_context():
        return db.session.get(User, user.id).used_bytes


def blobs(app) -> dict[str, bytes]:
    """Return {storage key: bytes} for everything in the store, through its scan.

    What is not a whole blob (an unfinished upload, a resumable upload's bytes
    so far, a stray) appears with its kind in brackets for bytes, so a test
    that expects nothing left sees it too.
    """
    with app.app_context():
        store = get_storage()
        return {
            entry.path: b"".join(store.read_range(entry.key, 0, entry.size))
            if entry.kind == StoredEntry.BLOB
            else f"({entry.kind})".encode()
            for entry in store.scan()
            if entry.kind != StoredEntry.NAMESPACE
        }


def blob_bytes(app, key: str) -> bytes | None:
    """Return a blob's bytes through the store, or None if it is not there."""
    with app.app_context():
        store = get_storage()
        if not store.exists(key):
            return None
        return b"".join(store.read_range(key, 0, store.size(key)))


def resumable_ids(app) -> list[str]:
    """The resumable uploads whose bytes so far the store holds."""
    with app.app_context():
        return sorted(
            {
                entry.upload_id
                for entry in get_storage().scan()
                if entry.kind == StoredEntry.RESUMABLE
            }
        )


def read_in_pieces_of(monkeypatch, size: int) -> None:
    """Make every store hand out a download in pieces of `size` bytes."""
    from vault.storage import local_files, s3

    monkeypatch.setattr(local_files, "READ_CHUNK", size)
    monkeypatch.setattr(s3, "READ_CHUNK", size)


def put_blob(app, key: str, data: bytes) -> None:
    """Put bytes at a key, as a fault would: in place of a blob, or where none was.

    The store's interface only makes new keys, so this goes under it: the file
    of a store with local paths, an object of any other.
    """
    with app.app_context():
        store = get_storage()
        if isinstance(store, LocalPaths):
            path = store.path(key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as file:
                file.write(data)
        else:
            store.put(key, data)


def remove_blob(app, key: str) -> None:
    """Delete a blob under the vault's feet, through the store."""
    with app.app_context():
        store = get_storage()
        assert store.exists(key), f"no blob {key} to remove"
        store.delete(key)


def post_form(client, url, data=None, **options):
    """POST a browser form with the session's CSRF token."""
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    return client.post(url, data={**(data or {}), "csrf_token": token}, **options)


def listed_names(page: str) -> list[str]:
    """The names on a folder page, in the order shown (by their selection boxes)."""
    boxes = re.findall(r'<input[^>]*name="ids"[^>]*>', page)
    labels = [re.search(r'aria-label="Select ([^"]*)"', box) for box in boxes]
    return [html.unescape(label.group(1)) for label in labels if label]


def linked_ids(page: str) -> list[str]:
    """The ids of the files and folders each listing row's name links to."""
    return re.findall(
        r'<td class="name">\s*<a href="/(?:folders|files)/([0-9a-f]{32})', page
    )


def error_of(response, status: int, code: str | None = None) -> dict:
    """Assert the API's error contract and return the error."""
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return error


def insert_folders_together(monkeypatch, parties: int) -> None:
    """Hold each thread's first tree change until `parties` threads reach it.

    Every upload into a new path looks for the folder, finds nothing, and only
    then creates it: all of them getting there at once is the worst case. The
    owner's tree lock (tree.lock_tree) then lets them in one after another.
    """
    barrier = threading.Barrier(parties, timeout=10)
    waited = threading.local()
    original_lock_tree = tree.lock_tree

    def lock_tree_together(*args, **kwargs):
        if not getattr(waited, "done", False):
            waited.done = True
            barrier.wait()
        return original_lock_tree(*args, **kwargs)

    monkeypatch.setattr(tree, "lock_tree", lock_tree_together)


class SeekableBody(io.RawIOBase):
    """A request body read as a stream; subclasses set `length` and `position`
    and write `readinto`."""

    def readable(self):
        return True

    # The test client measures the body by seeking to its end and back.
    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        self.position = self.length + offset if whence == io.SEEK_END else offset
        return self.position

    def tell(self):
        return self.position


BOUNDARY = "vaultboundary1234"
PATTERN = bytes(range(256)) * 256  # 64 KiB


class MultipartBody(SeekableBody):
    """A multipart body produced on the fly, so the test holds no copy of it."""

    def __init__(self, filename: str, size: int, stop_after: int | None = None):
        self.head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        self.tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.size = size
        self.length = len(self.head) + size + len(self.tail)
        self.stop_after = self.length if stop_after is None else stop_after
        self.position = 0

    def _byte_source(self, position: int, count: int) -> bytes:
        if position < len(self.head):
            return self.head[position : position + count]
        body_position = position - len(self.head)
        if body_position < self.size:
            offset = body_position % len(PATTERN)
            count = min(count, self.size - body_position, len(PATTERN) - offset)
            return PATTERN[offset : offset + count]
        tail_position = body_position - self.size
        return self.tail[tail_position : tail_position + count]

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.stop_after - self.position)
        if count <= 0:
            return 0
        chunk = self._byte_source(self.position, count)
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


def post_body(client, headers, body: MultipartBody):
    return client.post(
        "/api/v1/files",
        input_stream=body,
        content_length=body.length,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers=headers,
    )


def assert_nothing_stored(app):
    assert blobs(app) == {}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Node)) == 0
        assert all(user.used_bytes == 0 for user in db.session.scalars(select(User)))


def wait_for(condition, seconds: float = 20) -> bool:
    """Poll `condition` until it holds (True) or `seconds` pass (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
