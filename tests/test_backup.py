"""`flask --app vault backup DEST` and `restore SRC`: every file comes back.

The vault under test keeps its bytes where the suite puts them (a folder, or
a bucket under VAULT_TEST_STORAGE=s3) and its rows in SQLite or PostgreSQL;
the backup is always a local folder, and the restore goes into a new
instance of the same kind (tests/backups.py).
"""

import contextlib
import json
import os
import stat

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from tests import helpers
from tests.backups import empty_instance, files_by_id, fsck_problems, stored_hashes
from tests.conftest import TEST_DATABASE_URL, AuthActions
from tests.factories import image_bytes
from vault.extensions import db
from vault.models import User
from vault.services import (
    backup_database,
    exclusive,
    storage_migration,
    storage_switch,
    trash,
)
from vault.services import restore as restores

pytestmark = pytest.mark.bytes

DATABASE_KIND = "postgresql" if TEST_DATABASE_URL else "sqlite"
BIG = os.urandom(2 * 1024 * 1024 + 5)


@pytest.fixture
def stored(app, alice, bob, upload, client, as_alice, trash_item):
    """Files of two people: small, empty, big, an image with its thumbnail, trashed."""
    files = {
        "notes.txt": upload(alice, "notes.txt", b"hello vault\n"),
        "empty.txt": upload(alice, "empty.txt", b""),
        "big.bin": upload(alice, "big.bin", BIG),
        "photo.png": upload(alice, "photo.png", image_bytes(size=(64, 48))),
        "bob.txt": upload(bob, "bob.txt", b"bob's own\n"),
    }
    assert client.get(f"/files/{files['photo.png'].id}/thumbnail").status_code == 200
    files["old.txt"] = upload(alice, "old.txt", b"in the trash\n")
    trash_item(alice, files["old.txt"])
    return files


@pytest.fixture
def destination(tmp_path):
    return tmp_path / "backup"


@pytest.fixture
def restored(tmp_path):
    with empty_instance(tmp_path / "restored") as app:
        yield app


def run(app, *args):
    return app.test_cli_runner().invoke(args=[str(arg) for arg in args])


def manifest(destination) -> dict:
    return json.loads((destination / "manifest.json").read_text())


def test_a_restore_gives_every_file_back_with_its_sha256(
    app, stored, destination, restored
):
    backed_up = run(app, "backup", destination)
    assert backed_up.exit_code == 0, backed_up.output
    assert "copied 7 blobs" in backed_up.output  # six files and a thumbnail

    result = run(restored, "restore", destination)

    assert result.exit_code == 0, result.output
    assert "copied 7 blobs" in result.output
    assert files_by_id(restored) == files_by_id(app)
    assert stored_hashes(restored) == {
        id: sha256 for id, (_, _, sha256, _) in files_by_id(app).items()
    }
    assert fsck_problems(restored) == []
    with restored.app_context():
        emails = sorted(db.session.scalars(db.select(User.email)))
    assert emails == ["alice@example.com", "bob@example.com"]


def test_people_sign_in_and_download_after_a_restore(
    app, stored, destination, restored
):
    assert run(app, "backup", destination).exit_code == 0
    assert run(restored, "restore", destination).exit_code == 0

    client = restored.test_client()
    assert AuthActions(client).login().status_code == 302
    answer = client.get(f"/files/{stored['big.bin'].id}/download")

    assert answer.status_code == 200
    assert answer.get_data() == BIG


def test_the_manifest_lists_each_blob_with_its_size_and_sha256(
    app, stored, destination
):
    assert run(app, "backup", destination).exit_code == 0

    listed = manifest(destination)
    big = stored["big.bin"]
    assert listed["blobs"][big.storage_key] == {"size": len(BIG), "sha256": big.sha256}
    assert len(listed["blobs"]) == 7
    assert listed["database"]["kind"] == DATABASE_KIND
    assert listed["storage"]["kind"] == app.config["STORAGE_URL"].partition(":")[0]
    assert (destination / listed["database"]["file"]).is_file()
    assert listed["deleted"] == []
    blob = destination / "blobs" / big.storage_key
    assert blob.read_bytes() == BIG


def test_a_restored_vault_uses_its_own_store_not_one_a_migration_recorded(
    app, stored, destination, restored
):
    with app.app_context():
        storage_switch.record("s3://elsewhere/vault", app.config["STORAGE_URL"])
        db.session.commit()
    assert run(app, "backup", destination).exit_code == 0

    assert run(restored, "restore", destination).exit_code == 0

    uri = restored.config["SQLALCHEMY_DATABASE_URI"]
    assert storage_switch.recorded_url(uri) is None


def test_a_second_backup_copies_only_new_blobs(app, alice, upload, stored, destination):
    assert run(app, "backup", destination).exit_code == 0
    first_copy = manifest(destination)["database"]["file"]
    upload(alice, "late.txt", b"after the first backup\n")

    again = run(app, "backup", destination)

    assert again.exit_code == 0, again.output
    assert "copied 1 blob " in again.output
    assert "7 already there" in again.output
    second_copy = manifest(destination)["database"]["file"]
    assert second_copy != first_copy
    # Only the copy the manifest names stays.
    assert os.listdir(destination / "db") == [second_copy.removeprefix("db/")]
    assert len(manifest(destination)["blobs"]) == 8


def test_a_damaged_copy_in_the_backup_is_copied_again(app, stored, destination):
    assert run(app, "backup", destination).exit_code == 0
    notes = destination / "blobs" / stored["notes.txt"].storage_key
    notes.write_bytes(b"hello")  # a shorter file: not what the manifest says
    big = destination / "blobs" / stored["big.bin"].storage_key
    (destination / "manifest.json").unlink()  # nothing vouches for what is there
    big.write_bytes(b"x" * len(BIG))  # the right size, the wrong bytes

    again = run(app, "backup", destination)

    assert again.exit_code == 0, again.output
    assert "copied 2 blobs" in again.output
    assert notes.read_bytes() == b"hello vault\n"
    assert big.read_bytes() == BIG


def test_a_file_deleted_for_good_during_the_backup_is_left_out_of_the_restore(
    app, alice, stored, destination, restored, trash_item, monkeypatch
):
    snapshot = backup_database.snapshot
    old, photo = stored["old.txt"], stored["photo.png"]
    trash_item(alice, photo)  # with its thumbnail

    def purged_right_after(path):
        with snapshot(path) as connection:
            with app.app_context():
                trash.empty_trash(db.session.get(User, alice.id))
            yield connection

    monkeypatch.setattr(
        backup_database, "snapshot", contextlib.contextmanager(purged_right_after)
    )
    backed_up = run(app, "backup", destination)
    assert backed_up.exit_code == 0, backed_up.output
    assert "2 files deleted for good while this ran" in backed_up.output
    assert sorted(manifest(destination)["deleted"]) == sorted(
        [old.storage_key, photo.storage_key]
    )

    result = run(restored, "restore", destination)

    assert result.exit_code == 0, result.output
    assert "Left out 2 files deleted for good" in result.output
    assert old.id not in files_by_id(restored)
    assert photo.id not in files_by_id(restored)
    assert files_by_id(restored) == files_by_id(app)
    assert fsck_problems(restored) == []  # alice is charged for what she has


def test_a_blob_missing_from_the_store_is_reported(app, stored, destination):
    helpers.remove_blob(app, stored["notes.txt"].storage_key)

    result = run(app, "backup", destination)

    assert result.exit_code == 1
    assert f"{stored['notes.txt'].storage_key} is missing" in result.output
    assert "run `vault fsck`" in result.output
    assert len(manifest(destination)["blobs"]) == 6


def test_a_destination_that_is_a_file_is_refused(app, stored, tmp_path):
    target = tmp_path / "a-file"
    target.write_text("")

    result = run(app, "backup", target)

    assert result.exit_code == 2
    assert "is a file" in result.output


def test_a_restore_fills_a_schema_that_db_upgrade_made_and_left_empty(
    app, stored, destination, restored
):
    assert run(app, "backup", destination).exit_code == 0
    with restored.app_context():
        db.create_all()

    result = run(restored, "restore", destination)

    assert result.exit_code == 0, result.output
    assert files_by_id(restored) == files_by_id(app)


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="pg_restore fills PostgreSQL")
def test_a_restore_replaces_tables_a_newer_migration_added(
    app, stored, destination, restored
):
    # The backup is older than the code: its schema is one migration behind.
    assert run(app, "db", "stamp", "0011").exit_code == 0
    try:
        assert run(app, "backup", destination).exit_code == 0
    finally:
        with app.app_context():
            db.session.execute(text("DROP TABLE alembic_version"))
            db.session.commit()
    # Disaster recovery: install, `vault db upgrade`, `vault restore`. The
    # extra table stands in for one a later migration adds, pointing at users.
    assert run(restored, "db", "upgrade").exit_code == 0
    with restored.app_context():
        db.session.execute(
            text("CREATE TABLE newer (user_id VARCHAR(32) REFERENCES users (id))")
        )
        db.session.commit()

    result = run(restored, "restore", destination)

    assert result.exit_code == 0, result.output
    assert files_by_id(restored) == files_by_id(app)
    assert stored_hashes(restored) == {
        id: sha256 for id, (_, _, sha256, _) in files_by_id(app).items()
    }
    with restored.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert "newer" not in tables
        assert backup_database.revision(db.session.connection()) == "0011"


def set_writable(root, writable: bool) -> None:
    """chmod -R u+w or a-w."""
    for folder, _, names in os.walk(root):
        for path in [folder, *(os.path.join(folder, name) for name in names)]:
            mode = os.stat(path).st_mode
            os.chmod(path, mode | stat.S_IWUSR if writable else mode & ~0o222)


def journal_files(copy) -> list:
    return [path for path in copy.parent.iterdir() if path.name != copy.name]


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's pragmas")
def test_the_apps_own_sqlite_database_keeps_its_pragmas(app):
    # They are set on the app's engine only, no longer on every Engine.
    with app.app_context():
        connection = db.session.connection()
        assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
        assert connection.scalar(text("PRAGMA foreign_keys")) == 1
        assert connection.scalar(text("PRAGMA busy_timeout")) == 10000


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="the SQLite copy")
def test_the_sqlite_copy_stays_one_file_in_rollback_journal_mode(
    app, stored, destination
):
    assert run(app, "backup", destination).exit_code == 0

    copy = destination / manifest(destination)["database"]["file"]
    # Bytes 18 and 19 of the header: 1 for a rollback journal, 2 for WAL.
    assert copy.read_bytes()[18:20] == b"\x01\x01"
    assert journal_files(copy) == []


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="the SQLite copy")
def test_a_restore_reads_the_sqlite_copy_without_changing_it(
    app, stored, destination, restored
):
    assert run(app, "backup", destination).exit_code == 0
    copy = destination / manifest(destination)["database"]["file"]
    before = copy.read_bytes()
    # Backup media mounted read-only (a restic or borg mount); root writes anyway.
    if os.geteuid() != 0:
        set_writable(destination, False)
    try:
        result = run(restored, "restore", destination)
    finally:
        set_writable(destination, True)

    assert result.exit_code == 0, result.output
    assert files_by_id(restored) == files_by_id(app)
    assert copy.read_bytes() == before
    assert journal_files(copy) == []


def test_a_second_backup_into_the_same_folder_at_once_is_refused(
    app, stored, destination
):
    destination.mkdir()
    with app.app_context(), exclusive.only_one_in(str(destination / ".lock")):
        result = run(app, "backup", destination)

    assert result.exit_code == 1
    assert f"Another backup into {destination} is running." in result.output
    assert not (destination / "manifest.json").exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda listed: listed["blobs"].update({"../../etc/passwd": {}}),
        lambda listed: listed["database"].update(file="../vault.db"),
        lambda listed: listed.pop("blobs"),
        lambda listed: listed["deleted"].append(7),
        lambda listed: next(iter(listed["blobs"].values())).update(size="7"),
    ],
)
def test_a_damaged_manifest_is_refused_with_a_clear_message(
    app, stored, destination, restored, damage
):
    assert run(app, "backup", destination).exit_code == 0
    listed = manifest(destination)
    damage(listed)
    (destination / "manifest.json").write_text(json.dumps(listed))

    result = run(restored, "restore", destination)

    assert result.exit_code == 1
    assert "manifest.json is damaged" in result.output
    assert files_by_id_or_none(restored) is None


def test_a_restore_refuses_a_database_with_accounts(app, stored, destination):
    assert run(app, "backup", destination).exit_code == 0

    result = run(app, "restore", destination)

    assert result.exit_code == 1
    assert "already holds accounts or files" in result.output


def test_a_restore_refuses_a_store_with_blobs_of_another_vault(
    app, stored, destination, restored
):
    assert run(app, "backup", destination).exit_code == 0
    helpers.put_blob(restored, "a" * 32 + "/" + "b" * 32, b"someone else's")

    result = run(restored, "restore", destination)

    assert result.exit_code == 1
    assert "not from this backup" in result.output
    assert files_by_id_or_none(restored) is None


def files_by_id_or_none(app):
    """The file rows of an instance, None while its database has no tables."""
    with app.app_context():
        if "nodes" not in db.inspect(db.engine).get_table_names():
            return None
    return files_by_id(app)


def test_a_folder_without_a_manifest_is_refused(restored, tmp_path):
    result = run(restored, "restore", tmp_path)

    assert result.exit_code == 1
    assert "holds no manifest.json" in result.output


def test_a_missing_folder_is_refused(restored, tmp_path):
    result = run(restored, "restore", tmp_path / "nothing")

    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_a_backup_of_the_other_kind_of_database_is_refused(
    app, stored, destination, restored
):
    assert run(app, "backup", destination).exit_code == 0
    listed = manifest(destination)
    other = "sqlite" if DATABASE_KIND == "postgresql" else "postgresql"
    listed["database"]["kind"] = other
    (destination / "manifest.json").write_text(json.dumps(listed))

    result = run(restored, "restore", destination)

    assert result.exit_code == 1
    assert f"This backup holds a {other} database" in result.output
    assert "not supported" in result.output


def test_a_damaged_database_copy_is_refused(app, stored, destination, restored):
    assert run(app, "backup", destination).exit_code == 0
    copy = destination / manifest(destination)["database"]["file"]
    data = copy.read_bytes()
    copy.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))

    result = run(restored, "restore", destination)

    assert result.exit_code == 1
    assert "missing or damaged" in result.output
    assert files_by_id_or_none(restored) is None


def test_a_damaged_blob_in_the_backup_stops_the_restore_before_the_database(
    app, stored, destination, restored
):
    assert run(app, "backup", destination).exit_code == 0
    blob = destination / "blobs" / stored["notes.txt"].storage_key
    blob.write_bytes(b"HELLO VAULT\n")

    result = run(restored, "restore", destination)

    assert result.exit_code == 1
    assert "does not match its SHA-256" in result.output
    assert "the database was not restored" in result.output
    assert files_by_id_or_none(restored) is None


def test_an_interrupted_restore_goes_on_where_it_stopped(
    app, stored, destination, restored, monkeypatch
):
    assert run(app, "backup", destination).exit_code == 0
    copy_blob, copies = storage_migration.copy_blob, []

    def dies_in_the_third(*args):
        copies.append(args)
        if len(copies) == 3:
            raise OSError("killed")
        return copy_blob(*args)

    monkeypatch.setattr(restores, "copy_blob", dies_in_the_third)
    with restored.app_context(), pytest.raises(OSError):
        restores.restore(str(destination))
    monkeypatch.setattr(restores, "copy_blob", copy_blob)

    result = run(restored, "restore", destination)

    assert result.exit_code == 0, result.output
    assert "copied 5 blobs" in result.output
    assert "2 already there from an earlier try" in result.output
    assert stored_hashes(restored) == {
        id: sha256 for id, (_, _, sha256, _) in files_by_id(app).items()
    }


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="pg_dump backs up PostgreSQL")
def test_without_pg_dump_it_says_what_to_run(app, stored, destination, monkeypatch):
    monkeypatch.setenv("PATH", "")

    result = run(app, "backup", destination)

    assert result.exit_code == 1
    assert "pg_dump is not on the PATH" in result.output
    assert "pg_dump --format=custom --file=" in result.output
    assert ".pgdump postgresql://" in result.output
    assert not (destination / "manifest.json").exists()


def test_pg_dump_and_pg_restore_get_a_url_without_the_password():
    url = make_url("postgresql+psycopg://vault:s3cret@db.example:5432/vault")

    # The password goes through PGPASSWORD, never on a command line ps shows.
    assert backup_database._libpq_url(url) == (
        "postgresql://vault@db.example:5432/vault"
    )
