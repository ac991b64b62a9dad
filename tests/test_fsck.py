"""fsck: every drift between the database and the storage, found and repaired."""

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.factories import image_bytes
from tests.helpers import blob_bytes, node, put_blob, remove_blob, resumable_ids
from vault.extensions import db
from vault.models import Node, Reservation, ResumableUpload, User, new_id, utcnow
from vault.services import fsck, fsck_report, quotas, resumable, thumbnails
from vault.storage import get_storage

pytestmark = pytest.mark.bytes

LONG_AGO = utcnow() - timedelta(days=2)
# Blobs and partials are judged once older than a reservation: look from later.
LATER = utcnow() + timedelta(hours=1)


def check(app, **options) -> fsck_report.Report:
    with app.app_context():
        return fsck.check(**options)


def kinds(report: fsck_report.Report) -> list[str]:
    return sorted(problem.kind for problem in report.problems)


def the_problem(report: fsck_report.Report, kind: str) -> fsck_report.Problem:
    [problem] = [problem for problem in report.problems if problem.kind == kind]
    return problem


def user_dir(app, user) -> Path:
    return Path(app.config["STORAGE_DIR"]) / user.id


def set_counters(app, user, **values) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.id == user.id).values(**values))
        db.session.commit()


def counters(app, user) -> tuple[int, int]:
    with app.app_context():
        stored = db.session.get(User, user.id)
        return stored.used_bytes, stored.reserved_bytes


def make_old(path: Path) -> None:
    old = LONG_AGO.timestamp()
    os.utime(path, (old, old))


def fsck_cli(runner, *options):
    return runner.invoke(args=["fsck", *options])


@pytest.fixture
def vault_in_use(app, bob, upload, trash_item, make_folder):
    """Files of every sort: live, trashed, in a folder, with a thumbnail."""
    folder = make_folder(bob, "Photos")
    photo = upload(bob, "photo.png", image_bytes("PNG", (64, 48)), folder_id=folder.id)
    upload(bob, "notes.txt", b"hello vault\n")
    old = upload(bob, "old.txt", b"old news\n")
    trash_item(bob, old)
    with app.app_context():
        thumbnails.thumbnail_key(bob, db.session.get(Node, photo.id))
    return node(app, photo.id)


def test_a_healthy_vault_has_no_problems(app, runner, vault_in_use):
    report = check(app, now=LATER)
    result = fsck_cli(runner)

    assert report.problems == []
    assert report.lost_found_files == 0
    assert result.exit_code == 0, result.output
    assert result.output == "No problems found.\n"


def test_an_empty_vault_has_no_problems(runner):
    result = fsck_cli(runner, "--repair")

    assert result.exit_code == 0, result.output
    assert result.output == "No problems found.\n"


def test_a_deleted_blob_is_reported_and_its_row_kept(
    app, runner, bob, upload, trash_item
):
    notes = upload(bob, "notes.txt", b"hello vault\n")
    trashed = trash_item(bob, upload(bob, "old.txt", b"old news\n"))
    remove_blob(app, notes.storage_key)
    remove_blob(app, trashed.storage_key)

    result = fsck_cli(runner, "--repair")

    assert result.exit_code == 1
    assert (
        f'missing_blob: File "notes.txt" ({notes.id}) of bob@example.com: '
        f"its blob {notes.storage_key} is missing.\n"
    ) in result.output
    assert f'File "old.txt" ({trashed.id}, in the trash)' in result.output
    assert "2 problems found, 0 repaired." in result.output
    assert node(app, notes.id) is not None
    assert node(app, trashed.id) is not None
    assert kinds(check(app)) == ["missing_blob", "missing_blob"]


def test_a_truncated_blob_has_the_wrong_size(app, runner, bob, upload):
    notes = upload(bob, "notes.txt", b"hello vault\n")
    put_blob(app, notes.storage_key, b"hello")

    report = check(app, repair=True)
    result = fsck_cli(runner)

    assert the_problem(report, "wrong_size").message == (
        f'File "notes.txt" ({notes.id}) of bob@example.com: its blob '
        f"{notes.storage_key} is 5 bytes, the database says 12 bytes."
    )
    assert not report.problems[0].repaired
    assert result.exit_code == 1
    assert "1 problem found." in result.output
    assert blob_bytes(app, notes.storage_key) == b"hello"


def test_an_overwritten_blob_has_the_wrong_hash(app, runner, bob, upload):
    notes = upload(bob, "notes.txt", b"hello vault\n")
    put_blob(app, notes.storage_key, b"HELLO VAULT\n")

    report = check(app, repair=True)
    quick = check(app, verify_hashes=False)
    full_run, quick_run = fsck_cli(runner), fsck_cli(runner, "--quick")

    problem = the_problem(report, "wrong_hash")
    assert f"its blob {notes.storage_key}" in problem.message
    assert f"the database says {notes.sha256}" in problem.message
    assert not problem.repaired
    assert quick.problems == []
    assert full_run.exit_code == 1
    assert quick_run.exit_code == 0, quick_run.output


def test_a_missing_thumbnail_is_forgotten_and_made_again(app, runner, vault_in_use):
    photo = vault_in_use
    remove_blob(app, photo.thumbnail_key)

    found = check(app)
    result = fsck_cli(runner, "--repair")

    assert kinds(found) == ["missing_thumbnail"]
    assert f"its thumbnail {photo.thumbnail_key} is missing" in result.output
    assert "1 problem found, 1 repaired." in result.output
    assert result.exit_code == 1
    assert node(app, photo.id).thumbnail_key is None
    assert fsck_cli(runner).exit_code == 0
    with app.app_context():
        user = db.session.get(User, photo.owner_id)
        remade = thumbnails.thumbnail_key(user, db.session.get(Node, photo.id))
    assert blob_bytes(app, remade)
    assert check(app, now=LATER).problems == []


@pytest.mark.local_storage  # writes into the folder of a local store
def test_a_stray_file_is_moved_to_lost_found(app, runner, bob, upload):
    upload(bob, "notes.txt", b"hello vault\n")
    stray = user_dir(app, bob) / "holiday.jpg"
    stray.write_bytes(b"copied in by hand")

    result = fsck_cli(runner, "--repair")

    lost_found = user_dir(app, bob) / "lost+found"
    assert result.exit_code == 1
    assert (
        f"stray_file: File {bob.id}/holiday.jpg of bob@example.com, 17 bytes, "
        "is not made by the vault."
    ) in result.output
    assert f"Moved aside into {lost_found}\n" in result.output
    assert not stray.exists()
    assert (lost_found / "holiday.jpg").read_bytes() == b"copied in by hand"
    again = fsck_cli(runner)
    assert again.exit_code == 0, again.output
    assert "The lost+found areas hold 1 file (17 bytes)" in again.output


def test_a_blob_without_a_row_is_an_orphan_once_old_enough(app, bob, upload):
    upload(bob, "notes.txt", b"hello vault\n")
    with app.app_context():
        # A crash between writing the blob and inserting its row.
        writer = get_storage().new_writer(bob.id)
        writer.write(b"lost upload")
        writer.commit()

    fresh = check(app, repair=True)
    report = check(app, repair=True, now=LATER)

    assert fresh.problems == []
    problem = the_problem(report, "orphan_blob")
    assert problem.message == (
        f"Blob {writer.key} of bob@example.com, 11 bytes, belongs to no file."
    )
    assert problem.repair.startswith("moved to ")
    assert blob_bytes(app, writer.key) is None
    assert lost_found_usage(app) == (1, 11)
    assert check(app, now=LATER).problems == []


def test_the_directory_of_a_user_who_is_gone_is_moved_aside(app, runner, bob):
    gone = new_id()
    put_blob(app, f"{gone}/{'c' * 32}", b"their file")

    report = check(app, now=LATER)
    result = fsck_cli(runner, "--repair")

    assert kinds(report) == ["orphan_namespace"]
    assert f"Directory {gone} belongs to no user." in result.output
    assert result.exit_code == 1
    assert blob_bytes(app, f"{gone}/{'c' * 32}") is None
    assert lost_found_usage(app) == (1, 10)
    assert check(app, now=LATER).problems == []


def test_a_corrupt_used_counter_is_recomputed(app, runner, bob, upload, trash_item):
    upload(bob, "notes.txt", b"hello vault\n")
    trash_item(bob, upload(bob, "old.txt", b"old news\n"))
    set_counters(app, bob, used_bytes=5_000)

    report = check(app)
    result = fsck_cli(runner, "--repair")

    assert the_problem(report, "usage_drift").message == (
        "bob@example.com is charged 5,000 bytes (5.0 kB) for stored files, "
        "but their files total 21 bytes."
    )
    assert "Repaired: set to 21 bytes." in result.output
    assert result.exit_code == 1
    assert counters(app, bob) == (21, 0)
    assert fsck_cli(runner).exit_code == 0


def test_a_corrupt_reserved_counter_is_recomputed(app, runner, bob):
    with app.app_context():
        quotas.reserve(bob.id, 300)  # an upload in progress
    set_counters(app, bob, reserved_bytes=1_000)

    report = check(app)
    result = fsck_cli(runner, "--repair")

    assert the_problem(report, "reserved_drift").message == (
        "bob@example.com has 1,000 bytes (1.0 kB) reserved, but their "
        "reservations hold 300 bytes."
    )
    assert result.exit_code == 1
    assert "1 problem found, 1 repaired." in result.output
    assert counters(app, bob) == (0, 300)
    assert fsck_cli(runner).exit_code == 0


def dead_upload(app, user) -> tuple[object, Path]:
    """Start an upload whose worker then died: a reservation and a partial file."""
    with app.app_context():
        quotas.reserve(user.id, 1000, now=LONG_AGO)
        writer = get_storage().new_writer(user.id)
        writer.write(os.urandom(3 * 1024 * 1024))  # past the write buffer: on disk
    [partial] = user_dir(app, user).glob(".partial-*")
    make_old(partial)
    return writer, partial


@pytest.mark.local_storage  # writes into the folder of a local store
def test_an_upload_killed_midway_is_swept_up(app, runner, bob):
    writer, partial = dead_upload(app, bob)
    written = partial.read_bytes()

    result = fsck_cli(runner, "--repair")
    writer.discard()  # the dead worker's handle, closed for the test's sake

    assert result.exit_code == 1
    # stdout: the summary is also logged, to stderr, for the operator's log.
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"stale_partial: Unfinished upload {bob.id}/.partial-")
    assert lines[1].startswith("stale_reservation: Reservation ")
    assert "of bob@example.com holds 1,000 bytes (1.0 kB) and expired" in lines[1]
    assert "2 problems found, 2 repaired." in result.output
    assert counters(app, bob) == (0, 0)
    with app.app_context():
        assert db.session.scalars(select(Reservation)).all() == []
    moved = user_dir(app, bob) / "lost+found" / partial.name
    assert not partial.exists()
    assert moved.read_bytes() == written
    again = fsck_cli(runner)
    assert again.exit_code == 0, again.output


@pytest.mark.local_storage  # writes into the folder of a local store
def test_a_dead_upload_is_only_reported_without_repair(app, runner, bob):
    writer, partial = dead_upload(app, bob)

    result = fsck_cli(runner)
    writer.discard()

    assert result.exit_code == 1
    assert "2 problems found; --repair would fix 2." in result.output
    assert counters(app, bob) == (0, 1000)
    assert not (user_dir(app, bob) / "lost+found").exists()


def test_an_upload_in_progress_is_not_a_problem(app, runner, bob):
    with app.app_context():
        reservation_id = quotas.reserve(bob.id, 1000)
        writer = get_storage().new_writer(bob.id)
        writer.write(b"still arriving")

    result = fsck_cli(runner, "--repair")
    writer.discard()

    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get(Reservation, reservation_id) is not None
    assert counters(app, bob) == (0, 1000)


@pytest.mark.local_storage  # writes into the folder of a local store
def test_after_a_repair_only_what_needs_a_person_is_left(
    app, runner, bob, make_user, upload, vault_in_use
):
    carol = make_user("carol@example.com")
    notes = upload(carol, "notes.txt", b"carol's notes\n")
    remove_blob(app, notes.storage_key)
    remove_blob(app, vault_in_use.thumbnail_key)
    (user_dir(app, bob) / "stray.bin").write_bytes(b"?")
    set_counters(app, carol, used_bytes=0, reserved_bytes=7)
    writer, _ = dead_upload(app, bob)

    first = fsck_cli(runner, "--repair")
    second = fsck_cli(runner, "--repair")
    writer.discard()

    assert first.exit_code == 1
    assert "7 problems found, 6 repaired." in first.output
    assert second.exit_code == 1
    assert second.stdout.splitlines()[0].startswith("missing_blob: ")
    assert "1 problem found, 0 repaired." in second.output
    assert counters(app, carol) == (14, 0)


def test_large_vaults_are_read_in_batches(app, monkeypatch, bob, make_user, upload):
    monkeypatch.setattr(fsck_report, "BATCH_SIZE", 2)
    carol, dave = make_user("carol@example.com"), make_user("dave@example.com")
    lost = [upload(user, f"{n}.txt", b"x") for user in (bob, carol) for n in range(3)]
    for file in lost:
        remove_blob(app, file.storage_key)
    with app.app_context():
        for _ in range(5):
            writer = get_storage().new_writer(dave.id)
            writer.commit()
    for user in (bob, carol, dave):
        set_counters(app, user, used_bytes=100)

    report = check(app, repair=True, now=LATER)

    assert (
        kinds(report)
        == ["missing_blob"] * 6 + ["orphan_blob"] * 5 + ["usage_drift"] * 3
    )
    missing = " ".join(the.message for the in report.problems)
    assert all(f"its blob {file.storage_key} is missing" in missing for file in lost)
    assert [counters(app, user)[0] for user in (bob, carol, dave)] == [3, 3, 0]
    assert lost_found_usage(app) == (5, 0)


def start_upload(app, user, content: bytes = b"hello", length: int = 100):
    """A resumable upload that received `content` and waits for the rest."""
    with app.app_context():
        owner = db.session.get(User, user.id)
        upload = resumable.create_upload(owner, length, "big.zip")
        resumable.append(owner, upload.id, io.BytesIO(content), offset=0)
        return upload.id


def resumable_file(app, user, upload_id: str) -> Path:
    return user_dir(app, user) / f".resumable-{upload_id}"


def lost_found_usage(app) -> tuple[int, int]:
    with app.app_context():
        return get_storage().lost_found_usage()


def upload_rows(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(ResumableUpload.id)))


def test_a_resumable_upload_waiting_for_more_is_not_a_problem(app, runner, bob):
    upload_id = start_upload(app, bob)
    # Resumable uploads wait a day between requests, unlike a writer's partial.
    report = check(app, repair=True, now=utcnow() + timedelta(hours=23))
    result = fsck_cli(runner, "--repair")

    assert report.problems == []
    assert result.exit_code == 0, result.output
    assert resumable_ids(app) == [upload_id]
    assert upload_rows(app) == [upload_id]
    assert counters(app, bob) == (0, 100)


@pytest.mark.local_storage  # writes into the folder of a local store
def test_resumable_bytes_without_an_upload_are_moved_aside(app, runner, bob):
    orphan = resumable_file(app, bob, new_id())
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"half an upload")
    fresh = resumable_file(app, bob, new_id())
    fresh.write_bytes(b"its row comes next")

    make_old(orphan)
    result = fsck_cli(runner, "--repair")

    assert result.exit_code == 1
    assert (
        f"stale_upload: Resumable upload {bob.id}/{orphan.name} of bob@example.com, "
        "14 bytes, belongs to no upload; it was last written at "
    ) in result.output
    assert "1 problem found, 1 repaired." in result.output
    assert not orphan.exists()
    lost_found = user_dir(app, bob) / "lost+found"
    assert (lost_found / orphan.name).read_bytes() == b"half an upload"
    assert fresh.exists()


@pytest.mark.local_storage  # reads what lost+found holds as files
def test_an_expired_resumable_upload_is_reported_then_forgotten(app, bob):
    upload_id = start_upload(app, bob)
    day_later = utcnow() + timedelta(hours=25)

    found = check(app, now=day_later)
    repaired = check(app, repair=True, now=day_later)

    assert kinds(found) == ["stale_reservation", "stale_upload"]
    problem = the_problem(found, "stale_upload")
    assert problem.message.startswith(
        f"Resumable upload {upload_id} of bob@example.com, 5 bytes of 100 bytes "
        "received, expired at "
    )
    moved = user_dir(app, bob) / "lost+found" / f".resumable-{upload_id}"
    assert the_problem(repaired, "stale_upload").repair == (
        f"forgot it, released its quota, moved its bytes to {moved}"
    )
    assert moved.read_bytes() == b"hello"
    assert upload_rows(app) == []
    assert counters(app, bob) == (0, 0)
    assert check(app, now=day_later).problems == []


def test_an_expired_upload_without_bytes_is_forgotten(app, bob):
    upload_id = start_upload(app, bob)
    with app.app_context():
        get_storage().delete_resumable(bob.id, upload_id)

    report = check(app, repair=True, now=utcnow() + timedelta(hours=25))

    assert the_problem(report, "stale_upload").repair == (
        "forgot it and released its quota; it had no bytes on disk"
    )
    assert upload_rows(app) == []


def test_an_expired_upload_is_only_reported_without_repair(app, bob):
    upload_id = start_upload(app, bob)
    day_later = utcnow() + timedelta(hours=25)

    report = check(app, now=day_later)

    assert kinds(report) == ["stale_reservation", "stale_upload"]
    assert upload_rows(app) == [upload_id]
    assert resumable_ids(app) == [upload_id]
    assert counters(app, bob) == (0, 100)
