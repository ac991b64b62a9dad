"""`flask --app vault storage migrate --to s3://...`: move every blob, then switch.

The vault under test keeps its bytes where the suite puts them (a folder, or
a bucket under VAULT_TEST_STORAGE=s3); the target is a new bucket on the
test S3 server. Downloads afterwards go through a new app on the same
database, as an app server started after the switch-over would.
"""

import hashlib
import logging
import os
from contextlib import contextmanager

import pytest

from tests import helpers
from tests.conftest import AuthActions
from tests.factories import image_bytes
from tests.s3server import new_bucket
from tests.tus import Tus
from tests.tus import state as tus_state
from vault import create_app
from vault.extensions import db
from vault.services import storage_switch
from vault.storage import get_storage, open_store

BIG = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture
def target():
    return f"s3://{new_bucket()}/moved"


@pytest.fixture
def stored(app, alice, upload, client, as_alice, trash_item):
    """Alice's files: small, empty, big, an image with its thumbnail, trashed."""
    files = {
        "notes.txt": upload(alice, "notes.txt", b"hello vault\n"),
        "empty.txt": upload(alice, "empty.txt", b""),
        "big.bin": upload(alice, "big.bin", BIG),
        "photo.png": upload(alice, "photo.png", image_bytes(size=(64, 48))),
    }
    assert client.get(f"/files/{files['photo.png'].id}/thumbnail").status_code == 200
    trash_item(alice, upload(alice, "old.txt", b"in the trash\n"))
    return files


def migrate(runner, *args):
    return runner.invoke(args=["storage", "migrate", *args])


@contextmanager
def restarted(app_config):
    """A new app on the same database, told nothing about where bytes live."""
    config = {
        name: value
        for name, value in app_config.items()
        if name not in ("STORAGE_DIR", "STORAGE_URL")
    }
    app = create_app(config)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def reserved(app, user) -> tuple[int, int]:
    """Bytes held for the user's uploads, and how many unfinished uploads."""
    held = tus_state(app, user)
    return held["reserved"], held["uploads"]


def recorded(app) -> str | None:
    return storage_switch.recorded_url(app.config["SQLALCHEMY_DATABASE_URI"])


def target_keys(app, url) -> set[str]:
    store = open_store(url, app.config)
    return {entry.key for entry in store.scan() if entry.kind == "blob"}


def row_keys(app) -> set[str]:
    keys = set()
    for node in helpers.nodes(app):
        keys |= {node.storage_key, node.thumbnail_key} - {None}
    return keys


def test_every_file_downloads_from_s3_after_the_switch(
    app, app_config, runner, stored, target
):
    before = helpers.blobs(app)

    result = migrate(runner, "--to", target)

    assert result.exit_code == 0, result.output
    assert "Pass 1: 6 copied" in result.output
    assert "Pass 2: 0 copied" in result.output
    assert f"Switched over to {target}." in result.output
    assert helpers.blobs(app) == before  # the source is untouched
    assert target_keys(app, target) == row_keys(app)
    with restarted(app_config) as moved:
        assert moved.config["STORAGE_URL"] == target
        client = moved.test_client()
        AuthActions(client).login()
        for name, file in stored.items():
            response = client.get(f"/files/{file.id}/download")
            assert response.status_code == 200, name
            assert hashlib.sha256(response.data).hexdigest() == file.sha256, name
        photo = stored["photo.png"]
        thumbnail = client.get(f"/files/{photo.id}/thumbnail")
        assert thumbnail.status_code == 200
        assert helpers.node(moved, photo.id).thumbnail_key in target_keys(app, target)


def test_an_interrupted_run_is_finished_by_the_next(app, runner, stored, target):
    source = app.extensions["vault.storage"]
    reads = []
    original = source.read_range

    def dies_in_the_third_blob(key, start, stop):
        reads.append(key)
        if len(reads) == 3:
            yield next(iter(original(key, start, min(stop, 1))), b"")
            raise ConnectionResetError("the network went away")
        yield from original(key, start, stop)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(source, "read_range", dies_in_the_third_blob)
        broken = migrate(runner, "--to", target)

    assert broken.exit_code != 0
    assert isinstance(broken.exception, ConnectionResetError)
    assert recorded(app) is None
    # The blobs read before are whole copies; nothing of the third is there.
    copied = target_keys(app, target)
    assert set(reads[:2]) <= copied
    assert reads[2] not in copied
    finished = migrate(runner, "--to", target)
    assert finished.exit_code == 0, finished.output
    assert f"Pass 1: {6 - len(copied)} copied" in finished.output
    assert f"{len(copied)} already there" in finished.output
    assert target_keys(app, target) == row_keys(app)
    assert recorded(app) == target


def test_a_damaged_blob_is_reported_and_nothing_switches(app, runner, stored, target):
    notes = stored["notes.txt"]
    with app.app_context():
        writer = get_storage().writer_at(notes.storage_key)
        writer.write(b"HELLO VAULT\n")  # same size, other bytes
        writer.commit()

    result = migrate(runner, "--to", target)

    assert result.exit_code == 1
    assert f"notes.txt): {notes.storage_key} does not match its SHA-256" in (
        result.output
    )
    assert "not switched over" in result.output
    assert recorded(app) is None
    assert notes.storage_key not in target_keys(app, target)
    assert target_keys(app, target) == row_keys(app) - {notes.storage_key}


def test_force_switches_over_without_a_missing_blob(app, runner, stored, target):
    notes = stored["notes.txt"]
    with app.app_context():
        get_storage().delete(notes.storage_key)

    refused = migrate(runner, "--to", target)
    forced = migrate(runner, "--to", target, "--force")

    assert refused.exit_code == 1
    assert f"{notes.storage_key} is missing" in refused.output
    assert forced.exit_code == 0, forced.output
    assert "Switched over anyway (--force)." in forced.output
    assert recorded(app) == target


def test_a_second_run_does_nothing_and_says_so(app, app_config, runner, stored, target):
    assert migrate(runner, "--to", target).exit_code == 0

    with restarted(app_config) as moved:
        again = moved.test_cli_runner().invoke(
            args=["storage", "migrate", "--to", target]
        )

    assert again.exit_code == 0, again.output
    assert f"Already switched to {target}: nothing to do." in again.output
    assert "Pass 1: 0 copied (0 bytes), 6 already there" in again.output


def test_the_run_after_the_restart_copies_what_reached_the_old_store(
    app, app_config, runner, alice, upload, stored, target
):
    assert migrate(runner, "--to", target).exit_code == 0
    # An app server not restarted yet still writes to the old store.
    late = upload(alice, "late.txt", b"uploaded before the restart\n")

    with restarted(app_config) as moved:
        assert late.storage_key not in target_keys(app, target)
        client = moved.test_client()
        AuthActions(client).login()
        again = moved.test_cli_runner().invoke(
            args=["storage", "migrate", "--to", target]
        )
        assert again.exit_code == 0, again.output
        assert "copied 1 blob that reached" in again.output
        assert client.get(f"/files/{late.id}/download").data == (
            b"uploaded before the restart\n"
        )


def test_a_dry_run_only_reports(app, runner, stored, target):
    result = migrate(runner, "--to", target, "--dry-run")

    assert result.exit_code == 0, result.output
    assert "Pass 1: 6 to copy" in result.output
    assert "Dry run: nothing copied" in result.output
    assert target_keys(app, target) == set()
    assert recorded(app) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example/x", "Not a store: 'ftp://example/x'. Give s3://BUCKET/"),
        ("file://relative", "Not a store: 'file://relative'. Give s3://BUCKET/"),
        ("s3://vault-no-such-bucket/x", "Cannot write to s3://vault-no-such-bucket/x"),
        ("file:///proc/vault", "Cannot write to file:///proc/vault: "),
    ],
)
def test_a_target_that_cannot_work_is_refused(app, runner, stored, url, message):
    new_bucket()  # points boto3 at the test server, never elsewhere

    result = migrate(runner, "--to", url)

    assert result.exit_code == 1
    assert message in result.output
    assert recorded(app) is None


def test_a_dry_run_refuses_a_bucket_it_cannot_list(app, runner, stored):
    new_bucket()

    result = migrate(runner, "--to", "s3://vault-no-such-bucket/x", "--dry-run")

    assert result.exit_code == 1
    assert "Cannot read s3://vault-no-such-bucket/x: " in result.output
    assert "NoSuchBucket" in result.output


def test_the_current_store_is_not_a_target(app, runner, stored):
    result = migrate(runner, "--to", app.config["STORAGE_URL"])

    assert result.exit_code == 1
    assert "already keeps its bytes in" in result.output


def test_an_explicit_storage_url_wins_and_says_so(
    app, app_config, runner, stored, target, caplog
):
    assert migrate(runner, "--to", target).exit_code == 0
    elsewhere = f"s3://{new_bucket()}/elsewhere"

    with caplog.at_level(logging.WARNING):
        with restarted(app_config) as moved:
            pass
        told = create_app({**app_config, "STORAGE_URL": elsewhere})
        with told.app_context():
            db.engine.dispose()

    assert moved.config["STORAGE_URL"] == target
    assert told.config["STORAGE_URL"] == elsewhere
    assert f"VAULT_STORAGE_URL is {elsewhere}, but `storage migrate` moved" in (
        caplog.text
    )


def test_an_unfinished_tus_upload_is_refused_after_the_switch_and_frees_its_quota(
    app, app_config, runner, alice, stored, target, api_headers
):
    headers = api_headers(alice)
    url = Tus(app.test_client(), headers).start(10)
    assert Tus(app.test_client(), headers).patch(url, b"hello", 0).status_code == 204
    assert reserved(app, alice) == (10, 1)
    assert migrate(runner, "--to", target).exit_code == 0

    with restarted(app_config) as moved:
        response = Tus(moved.test_client(), headers).patch(url, b"world", 5)

    assert helpers.error_of(response, 404)["message"] == (
        "This upload's bytes are gone; start it again."
    )
    assert reserved(app, alice) == (0, 0)
