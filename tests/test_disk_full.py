"""A full disk: a clear 507, not a word about the quota, and nothing left behind.

Every test runs on two full disks: a real small filesystem (a tmpfs mounted
where the storage lives, skipped where this process may not mount one) and
ENOSPC injected into the files the storage's writers open (always).
"""

import errno
import io
import os
import subprocess
import zipfile

import pytest
from sqlalchemy import func, select

from tests.factories import image_bytes
from tests.helpers import (
    MultipartBody,
    blobs,
    error_of,
    node,
    post_body,
    post_form,
    set_quota,
)
from tests.tus import NOTHING, Tus, state
from vault.extensions import db
from vault.models import Node
from vault.storage import StorageFull, writers
from vault.storage.local import LocalStorage

# Hands a local file to the server or the proxy, or fills a local disk.
pytestmark = pytest.mark.local_storage

MiB = 1024 * 1024
GiB = 1024 * MiB


def no_space() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class TmpfsDisk:
    """A tmpfs mounted for the test, the storage directory inside it."""

    SIZE = 48 * MiB

    def __init__(self, mountpoint):
        self.mountpoint = mountpoint
        self.storage_dir = mountpoint / "storage"
        self._filler = mountpoint / "filler"

    def mount(self) -> None:
        self.mountpoint.mkdir()
        command = ["mount", "-t", "tmpfs", "-o", f"size={self.SIZE},mode=0700"]
        try:
            result = subprocess.run(  # noqa: S603 (fixed arguments)
                [*command, "tmpfs", str(self.mountpoint)],
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError:
            pytest.skip("no mount command here to make a small filesystem")
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")

    def unmount(self) -> None:
        # Lazily if a failed test left a file open: it goes once closed.
        for command in (["umount"], ["umount", "--lazy"]):
            done = subprocess.run(  # noqa: S603 (fixed arguments)
                [*command, str(self.mountpoint)], capture_output=True, check=False
            )
            if done.returncode == 0:
                return
        raise RuntimeError(f"cannot unmount {self.mountpoint}: {done.stderr!r}")

    def leave(self, room: int) -> None:
        """Fill the disk up to `room` free bytes."""
        stats = os.statvfs(self.mountpoint)
        fill = stats.f_bavail * stats.f_frsize - room
        with open(self._filler, "ab") as filler:
            while fill > 0:
                try:
                    fill -= filler.write(b"\0" * min(fill, MiB))
                    filler.flush()
                except OSError:
                    break

    def free(self) -> None:
        self._filler.unlink()


class InjectedDisk:
    """The storage's writers open files on a disk with `room` bytes left.

    None is plenty of room. The room is shared by every file opened.
    """

    def __init__(self, storage_dir):
        self.storage_dir = storage_dir
        self.room: int | None = None

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(writers, "open", self._open, raising=False)

    def _open(self, *args, **kwargs):
        return FillingFile(open(*args, **kwargs), self)  # noqa: SIM115

    def leave(self, room: int) -> None:
        self.room = room

    def free(self) -> None:
        self.room = None


class FillingFile:
    """A file on an InjectedDisk, failing as a buffered file on a full disk does.

    A small write that does not fit seems to succeed (it sits in the buffer)
    and the flush or the close fails later; a large one writes what fits and
    fails. A close that fails still closes the file.
    """

    def __init__(self, file, disk: InjectedDisk):
        self._file, self._disk = file, disk
        self._unflushed = False

    def write(self, data) -> int:
        room = self._disk.room
        if room is None or len(data) <= room:
            if room is not None:
                self._disk.room -= len(data)
            return self._file.write(data)
        self._disk.room = 0
        if len(data) < writers.WRITE_BUFFER:
            self._unflushed = True
            return len(data)
        self._file.write(data[:room])
        raise no_space()

    def flush(self) -> None:
        if self._unflushed:
            raise no_space()
        self._file.flush()

    def truncate(self, size: int) -> int:
        self.flush()
        return self._file.truncate(size)

    def close(self) -> None:
        self._file.close()
        if self._unflushed:
            raise no_space()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __getattr__(self, name):
        return getattr(self._file, name)


@pytest.fixture(params=["tmpfs", "injected"])
def disk(request, tmp_path, monkeypatch):
    if request.param == "injected":
        injected = InjectedDisk(tmp_path / "storage")
        injected.install(monkeypatch)
        yield injected
        return
    tmpfs = TmpfsDisk(tmp_path / "disk")
    tmpfs.mount()
    try:
        yield tmpfs
    finally:
        tmpfs.unmount()


@pytest.fixture
def app_config(app_config, disk):
    app_config["STORAGE_DIR"] = str(disk.storage_dir)
    app_config["MAX_UPLOAD_BYTES"] = 64 * MiB
    return app_config


def assert_storage_full(message: str) -> None:
    assert "storage is full" in message
    assert "Tell the administrator" in message
    assert "quota" not in message and "your storage" not in message


def assert_kept_nothing(app, user) -> None:
    """No row, no byte on disk (temp files included), no quota used or held."""
    assert blobs(app) == {}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Node)) == 0
    assert state(app, user) == NOTHING


# Small and large uploads (large ones hash on a second thread) alike.
@pytest.mark.parametrize("size, room", [(4 * MiB, MiB), (24 * MiB, 12 * MiB)])
def test_an_api_upload_on_a_full_disk_answers_507_and_keeps_nothing(
    app, client, alice, api_headers, disk, size, room, caplog
):
    set_quota(app, alice, GiB)  # a quota, so the upload holds a reservation
    disk.leave(room)

    response = post_body(client, api_headers(alice), MultipartBody("a.zip", size))

    assert_storage_full(error_of(response, 507, "storage_full")["message"])
    assert_kept_nothing(app, alice)
    # The operator hears of it too: only they can add room.
    [record] = [r for r in caplog.records if r.message.startswith("storage full")]
    assert record.levelname == "ERROR"
    assert "api.upload_files answered 507" in record.message


def test_a_browser_upload_on_a_full_disk_shows_why_and_keeps_nothing(
    app, client, as_alice, disk
):
    set_quota(app, as_alice, GiB)
    disk.leave(100 * 1024)

    response = post_form(
        client,
        "/upload",
        # Under 500 kB, which the test client would spool to a file of its own.
        {"files": [(io.BytesIO(b"x" * 400 * 1024), "big.txt")]},
        content_type="multipart/form-data",
    )

    assert response.status_code == 507
    assert_storage_full(response.get_data(as_text=True).replace("&#39;", "'"))
    assert_kept_nothing(app, as_alice)


def test_files_already_in_place_go_when_a_later_one_meets_the_full_disk(
    app, client, as_alice, disk
):
    # Both small enough to wait in their buffers: the second fails on its way
    # to disk, after the first was renamed into place.
    set_quota(app, as_alice, GiB)
    disk.leave(300 * 1024)
    files = [(io.BytesIO(bytes([n]) * 200 * 1024), f"{n}.txt") for n in (1, 2)]

    response = post_form(
        client, "/upload", {"files": files}, content_type="multipart/form-data"
    )

    assert response.status_code == 507
    assert_kept_nothing(app, as_alice)


def test_a_tus_patch_on_a_full_disk_removes_the_whole_upload(
    app, client, alice, api_headers, disk
):
    set_quota(app, alice, GiB)
    tus = Tus(client, api_headers(alice))
    url = tus.start(3 * MiB, "big.zip")
    assert tus.patch(url, b"a" * MiB, 0).status_code == 204
    disk.leave(MiB // 2)

    response = tus.patch(url, b"b" * MiB, MiB)

    assert_storage_full(error_of(response, 507, "storage_full")["message"])
    assert tus.head(url).status_code == 404  # the client starts again
    assert state(app, alice) == NOTHING


def test_a_thumbnail_that_cannot_be_written_leaves_nothing_and_pages_still_load(
    app, client, as_alice, upload, disk
):
    photo = upload(as_alice, "photo.png", image_bytes("PNG", (800, 600)))
    stored = blobs(app)
    disk.leave(0)

    response = client.get(f"/files/{photo.id}/thumbnail")

    assert response.status_code == 507
    assert "thumbnail" in response.get_data(as_text=True)
    assert blobs(app) == stored
    assert node(app, photo.id).thumbnail_key is None
    assert client.get(f"/files/{photo.id}/preview").status_code == 200
    assert client.get("/").status_code == 200
    disk.free()
    assert client.get(f"/files/{photo.id}/thumbnail").status_code == 200


def test_a_zip_download_needs_no_room_on_the_disk(
    app, client, as_alice, upload, make_folder, disk
):
    # A zip is streamed from the stored blobs: it writes nothing anywhere.
    folder = make_folder(as_alice, "Photos")
    upload(as_alice, "a.txt", b"a" * 100_000, folder_id=folder.id)
    upload(as_alice, "b.txt", b"bb", folder_id=folder.id)
    stored = blobs(app)
    disk.leave(0)

    response = client.get(f"/folders/{folder.id}/zip")

    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.read("Photos/a.txt") == b"a" * 100_000
    assert archive.read("Photos/b.txt") == b"bb"
    assert blobs(app) == stored


NAMESPACE = "a" * 32


def test_a_blob_whose_buffer_cannot_be_flushed_is_still_removed(disk):
    storage = LocalStorage(str(disk.storage_dir))
    writer = storage.new_writer(NAMESPACE)
    disk.leave(0)
    writer.write(b"x" * 1000)  # it waits in the buffer

    with pytest.raises(StorageFull):
        writer.commit()
    writer.discard()  # closing cannot flush: it must not raise, and unlinks

    assert os.listdir(disk.storage_dir / NAMESPACE) == []


def test_a_resumable_upload_drops_what_the_full_disk_refused(disk):
    storage = LocalStorage(str(disk.storage_dir))
    storage.create_resumable(NAMESPACE, "b" * 32)
    writer = storage.append_resumable(NAMESPACE, "b" * 32, 0)
    writer.write(b"y" * 1000)
    writer.sync()
    disk.leave(0)
    writer.write(b"z" * 10_000)  # more than the page already started

    with pytest.raises(StorageFull):
        writer.sync()
    writer.truncate(1000)  # the refused bytes cannot be flushed: dropped
    writer.close()

    [partial] = (disk.storage_dir / NAMESPACE).iterdir()
    assert partial.read_bytes() == b"y" * 1000
