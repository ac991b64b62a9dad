import errno
import os
import stat
import threading

import pytest

from vault.storage import StorageFull, writers
from vault.storage.local import LocalStorage

NAMESPACE = "a" * 32


@pytest.fixture
def storage(tmp_path):
    return LocalStorage(str(tmp_path / "storage"))


def test_blob_appears_only_when_committed(storage):
    writer = storage.new_writer(NAMESPACE)
    writer.write(b"hello ")
    writer.write(b"world")
    assert not storage.exists(writer.key)
    writer.commit()
    assert storage.exists(writer.key)
    assert b"".join(storage.read_range(writer.key, 0, 11)) == b"hello world"
    assert writer.size == 11
    assert writer.sha256 == (
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    )


def test_discard_leaves_nothing(storage):
    writer = storage.new_writer(NAMESPACE)
    writer.write(b"partial")
    writer.discard()
    writer.discard()
    assert os.listdir(os.path.join(storage.root, NAMESPACE)) == []


def test_blobs_are_private_to_the_app(storage):
    writer = storage.new_writer(NAMESPACE)
    writer.commit()
    path = os.path.join(storage.root, writer.key)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


def test_keys_are_random_and_under_the_namespace(storage):
    first, second = storage.new_writer(NAMESPACE), storage.new_writer(NAMESPACE)
    assert first.key != second.key
    assert first.key.startswith(NAMESPACE + "/")
    first.discard()
    second.discard()


@pytest.mark.parametrize(
    "key", ["../" + "a" * 32, "a" * 32 + "/../../etc/passwd", "/etc/passwd", ""]
)
def test_keys_not_made_here_are_refused(storage, key):
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.open(key)


def test_read_range_reads_only_the_range(storage):
    writer = storage.new_writer(NAMESPACE)
    writer.write(bytes(range(256)) * 8192)  # 2 MiB
    writer.commit()
    chunks = list(storage.read_range(writer.key, 1_500_000, 1_500_010))
    assert b"".join(chunks) == bytes((1_500_000 + n) % 256 for n in range(10))


def test_missing_blob_fails_before_streaming(storage):
    with pytest.raises(FileNotFoundError):
        storage.read_range(NAMESPACE + "/" + "b" * 32, 0, 1)


def committed_blob(storage, content=b"blob bytes", namespace=NAMESPACE) -> str:
    writer = storage.new_writer(namespace)
    writer.write(content)
    writer.commit()
    return writer.key


def test_sha256_of_a_blob_is_what_the_writer_computed(storage):
    writer = storage.new_writer(NAMESPACE)
    writer.write(os.urandom(3 * 1024 * 1024 + 7))  # several 1 MiB reads
    writer.commit()

    assert storage.sha256(writer.key) == writer.sha256


def test_delete_namespace_removes_everything_in_it(storage):
    key = committed_blob(storage)
    other = committed_blob(storage, namespace="b" * 32)
    unfinished = storage.new_writer(NAMESPACE)
    unfinished.write(b"partial")

    storage.delete_namespace(NAMESPACE)
    unfinished.discard()

    assert not os.path.exists(os.path.join(storage.root, NAMESPACE))
    assert not storage.exists(key)
    assert storage.exists(other)


def test_delete_namespace_is_harmless_when_nothing_is_stored(storage):
    storage.delete_namespace(NAMESPACE)

    assert not os.path.exists(storage.root)


@pytest.mark.parametrize(
    "namespace", ["", ".", "..", "../" + "a" * 32, "A" * 32, "lost+found", "/etc"]
)
def test_delete_namespace_refuses_what_is_not_a_namespace(storage, namespace):
    committed_blob(storage)

    with pytest.raises(ValueError, match="invalid storage key"):
        storage.delete_namespace(namespace)

    assert os.listdir(storage.root) == [NAMESPACE]


def scanned(storage) -> set[tuple]:
    return {
        (entry.kind, entry.namespace, entry.name, entry.size)
        for entry in storage.scan()
    }


def test_scan_finds_namespaces_blobs_partials_and_strays(storage):
    key = committed_blob(storage, b"12345")
    unfinished = storage.new_writer(NAMESPACE)
    unfinished.write(b"abc")
    directory = os.path.join(storage.root, NAMESPACE)
    [partial] = [name for name in os.listdir(directory) if name.startswith(".")]
    with open(os.path.join(directory, "notes.txt"), "wb") as stray:
        stray.write(b"not ours")
    os.mkdir(os.path.join(directory, "photos"))
    with open(os.path.join(storage.root, "README"), "wb") as stray:
        stray.write(b"hi")
    os.utime(os.path.join(directory, partial), (1_000_000_000, 1_000_000_000))

    entries = {entry.name: entry for entry in storage.scan()}
    unfinished.discard()

    assert scanned_kinds(entries) == {
        None: ("namespace", NAMESPACE),
        key.split("/")[1]: ("blob", NAMESPACE),
        partial: ("partial", NAMESPACE),
        "notes.txt": ("stray", NAMESPACE),
        "photos": ("stray", NAMESPACE),
        "README": ("stray", None),
    }
    assert entries[key.split("/")[1]].size == 5
    assert entries[key.split("/")[1]].key == key
    assert entries[partial].size == 0  # still in the writer's buffer
    assert entries[partial].modified_at.year == 2001
    assert entries["notes.txt"].size == 8
    assert entries["photos"].is_dir
    assert entries["README"].path == "README"


def scanned_kinds(entries) -> dict:
    return {name: (entry.kind, entry.namespace) for name, entry in entries.items()}


def test_scan_of_a_store_never_written_finds_nothing(storage):
    assert list(storage.scan()) == []


def test_move_to_lost_found_keeps_the_bytes_and_the_name(storage):
    key = committed_blob(storage, b"keep me")
    name = key.split("/")[1]

    target = storage.move_to_lost_found(NAMESPACE, name)

    lost_found = os.path.join(storage.root, NAMESPACE, "lost+found")
    assert target == os.path.join(lost_found, name)
    assert not storage.exists(key)
    with open(target, "rb") as moved:
        assert moved.read() == b"keep me"
    assert stat.S_IMODE(os.stat(lost_found).st_mode) == 0o700
    assert scanned(storage) == {("namespace", NAMESPACE, None, 0)}
    assert storage.lost_found_usage() == (1, 7)


def test_move_to_lost_found_never_replaces_what_is_there(storage):
    directory = os.path.join(storage.root, NAMESPACE)
    os.makedirs(directory)
    for content in (b"first", b"second", b"third"):
        with open(os.path.join(directory, "notes.txt"), "wb") as stray:
            stray.write(content)
        storage.move_to_lost_found(NAMESPACE, "notes.txt")

    lost_found = os.path.join(directory, "lost+found")
    kept = {}
    for name in os.listdir(lost_found):
        with open(os.path.join(lost_found, name), "rb") as moved:
            kept[name] = moved.read()
    assert kept == {
        "notes.txt": b"first",
        "notes.txt.1": b"second",
        "notes.txt.2": b"third",
    }


def test_move_to_lost_found_takes_a_whole_namespace_aside(storage):
    key = committed_blob(storage, b"orphan")
    with open(os.path.join(storage.root, "README"), "wb") as stray:
        stray.write(b"hi")

    namespace_target = storage.move_to_lost_found(NAMESPACE)
    stray_target = storage.move_to_lost_found(None, "README")

    lost_found = os.path.join(storage.root, "lost+found")
    assert namespace_target == os.path.join(lost_found, NAMESPACE)
    assert stray_target == os.path.join(lost_found, "README")
    with open(os.path.join(lost_found, key), "rb") as moved:
        assert moved.read() == b"orphan"
    assert list(storage.scan()) == []
    assert storage.lost_found_usage() == (2, 8)


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        (None, None),
        ("../" + "a" * 32, None),
        (NAMESPACE, ".."),
        (NAMESPACE, "../" + "b" * 32),
        (NAMESPACE, "lost+found"),
        (None, "lost+found"),
        (None, ""),
    ],
)
def test_move_to_lost_found_refuses_what_it_did_not_find(storage, namespace, name):
    committed_blob(storage)

    with pytest.raises(ValueError):
        storage.move_to_lost_found(namespace, name)

    assert scanned(storage) != set()
    assert storage.lost_found_usage() == (0, 0)


def test_move_to_lost_found_of_something_gone_fails(storage):
    committed_blob(storage)

    with pytest.raises(FileNotFoundError):
        storage.move_to_lost_found(NAMESPACE, "c" * 32)
    assert not os.path.exists(os.path.join(storage.root, NAMESPACE, "lost+found"))


# Bytes made durable in steps while an upload arrives


@pytest.fixture
def synced(monkeypatch):
    """Record fdatasync calls: (thread name, file size at the time)."""
    calls = []
    real = os.fdatasync

    def recording(fd):
        calls.append((threading.current_thread().name, os.fstat(fd).st_size))
        return real(fd)

    monkeypatch.setattr(writers, "SYNC_BEHIND_BYTES", 1024 * 1024)
    monkeypatch.setattr(os, "fdatasync", recording)
    return calls


def test_a_large_blob_is_made_durable_while_it_arrives(storage, synced):
    piece = os.urandom(256 * 1024)
    writer = storage.new_writer(NAMESPACE)

    for _ in range(20):  # 5 MiB
        writer.write(piece)
    writer.commit()

    assert synced, "no step was made durable before the commit"
    assert {name for name, _ in synced} == {"sync-behind"}
    assert all(size >= 1024 * 1024 for _, size in synced)
    assert b"".join(storage.read_range(writer.key, 0, writer.size)) == piece * 20


def test_a_full_disk_seen_by_a_step_fails_the_upload(storage, monkeypatch):
    monkeypatch.setattr(writers, "SYNC_BEHIND_BYTES", 1024 * 1024)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdatasync", full)
    writer = storage.new_writer(NAMESPACE)

    with pytest.raises(StorageFull):
        for _ in range(40):
            writer.write(b"x" * (256 * 1024))
        writer.commit()
    writer.discard()

    assert os.listdir(os.path.join(storage.root, NAMESPACE)) == []


def test_a_resumable_upload_is_made_durable_in_steps_too(storage, synced):
    storage.create_resumable(NAMESPACE, "b" * 32)
    writer = storage.append_resumable(NAMESPACE, "b" * 32, 0)

    writer.write(b"y" * (3 * 1024 * 1024))
    writer.write(b"y")
    writer.sync()
    writer.close()

    assert [name for name, _ in synced] == ["sync-behind"]
    path = os.path.join(storage.root, NAMESPACE, ".resumable-" + "b" * 32)
    assert os.path.getsize(path) == 3 * 1024 * 1024 + 1
