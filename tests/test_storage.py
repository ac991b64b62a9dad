import os
import stat

import pytest

from vault.storage import LocalStorage

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
