"""GET /healthz and /readyz: what a load balancer asks, by the backend's address."""

import json
import logging

import boto3
import pytest
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from tests.conftest import PASSWORD, fresh_app
from tests.helpers import blobs
from tests.s3server import new_bucket
from vault import create_app
from vault.extensions import db
from vault.services import health
from vault.storage import get_storage

pytestmark = pytest.mark.bytes

# What a load balancer sends: the backend's own address, not a trusted name.
BACKEND = {"Host": "10.1.2.3:8000"}


def _script(app) -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", app.extensions["migrate"].directory)
    return ScriptDirectory.from_config(config)


def _stamp_head(app) -> None:
    with app.app_context(), db.engine.begin() as connection:
        MigrationContext.configure(connection).stamp(_script(app), "heads")


@pytest.fixture(autouse=True)
def fresh_rounds(monkeypatch):
    """Every probe runs its checks (test_readyz_answers_a_burst_from_one_round
    turns the cache back on)."""
    monkeypatch.setattr(health, "CACHE_SECONDS", 0)


@pytest.fixture
def unstamped_after(app):
    """Drop the alembic revision a test recorded (the schema is the test's own)."""
    yield
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture
def at_head(app, unstamped_after):
    """The test database stamped with the migrations' head, as an upgrade leaves it."""
    _stamp_head(app)


def test_healthz_answers_ok_to_any_host_before_the_first_account(client):
    response = client.get("/healthz", headers=BACKEND)

    assert response.status_code == 200
    assert response.data == b"ok\n"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    assert len(response.headers["X-Request-Id"]) == 32


def test_healthz_needs_no_database(app_config, tmp_path):
    # A database that cannot even be opened: the process still lives.
    app_config["DATABASE_URL"] = f"sqlite:///{tmp_path / 'missing' / 'vault.db'}"
    app = create_app(app_config)

    assert app.test_client().get("/healthz").status_code == 200
    assert app.test_client().get("/readyz").status_code == 503


def test_healthz_head_has_no_body_and_other_methods_are_refused(client):
    head = client.head("/healthz")
    post = client.post("/healthz", data={"x": "1"})

    assert head.status_code == 200 and head.data == b""
    assert post.status_code == 405
    assert post.headers["Allow"] == "GET, HEAD"


def test_readyz_reports_every_check_when_ready(app, client, at_head):
    response = client.get("/readyz", headers=BACKEND)

    assert response.status_code == 200
    assert response.json == {
        "status": "ready",
        "checks": {"database": "ok", "storage": "ok", "migrations": "ok"},
    }
    assert "Set-Cookie" not in response.headers


def test_readyz_leaves_nothing_in_the_store(app, client, at_head, alice, upload):
    upload(alice, "a.txt", b"kept")
    before = blobs(app)

    for _ in range(3):
        assert client.get("/readyz").status_code == 200

    assert blobs(app) == before


def test_readyz_names_a_database_behind_the_migrations(app, client, caplog):
    # The test schema comes from create_all: no alembic revision recorded.
    with caplog.at_level(logging.WARNING, logger="vault"):
        response = client.get("/readyz")
        client.get("/readyz")

    assert response.status_code == 503
    body = response.json
    assert body["status"] == "not ready"
    assert body["failing"] == ["migrations"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == (
        "the database schema is not this release's: run `vault db upgrade`"
    )
    # The revisions are the operator's to read, in the log; once per outage,
    # like the failure itself.
    head = _script(app).get_current_head()
    revisions = [r.message for r in caplog.records if "this release at" in r.message]
    assert revisions == [f"readiness: the database is at none, this release at {head}"]
    assert head not in response.get_data(as_text=True)
    warnings = [r for r in caplog.records if "not ready: migrations" in r.message]
    assert len(warnings) == 1


def test_readyz_answers_a_burst_from_one_round(app, client, at_head, monkeypatch):
    # Anyone may ask: a burst of probes costs one round of checks, not one
    # blob written and deleted each.
    monkeypatch.setattr(health, "CACHE_SECONDS", 60)
    written = []
    with app.app_context():
        store = get_storage()
        new_writer = store.new_writer
        monkeypatch.setattr(
            store, "new_writer", lambda *a: written.append(a) or new_writer(*a)
        )

    answers = [client.get("/readyz").status_code for _ in range(5)]

    assert answers == [200] * 5
    assert len(written) == 1


def test_readyz_logs_when_a_check_passes_again(app, client, unstamped_after, caplog):
    assert client.get("/readyz").status_code == 503
    _stamp_head(app)
    caplog.clear()

    with caplog.at_level(logging.WARNING, logger="vault"):
        assert client.get("/readyz").status_code == 200
        assert client.get("/readyz").status_code == 200

    assert [r.message for r in caplog.records] == [
        "ready again: migrations check passes"
    ]


def test_readyz_names_an_unreachable_database_without_its_address(app_config, tmp_path):
    secret_path = tmp_path / "missing-dir-x7" / "vault.db"
    app_config["DATABASE_URL"] = f"sqlite:///{secret_path}"
    app = create_app(app_config)

    response = app.test_client().get("/readyz", headers=BACKEND)

    assert response.status_code == 503
    assert response.json["failing"] == ["database", "migrations"]
    assert response.json["checks"]["database"] == "unreachable"
    assert "missing-dir-x7" not in response.get_data(as_text=True)


@pytest.mark.local_storage
def test_readyz_names_storage_that_cannot_be_written(app_config, tmp_path):
    # A file where the storage folder should be: no write can succeed, even as root.
    (tmp_path / "blocked").write_text("not a folder")
    app_config.update(STORAGE_DIR=str(tmp_path / "blocked" / "storage"))
    app = create_app(app_config)
    with app.app_context():
        db.create_all()
    try:
        response = app.test_client().get("/readyz")
    finally:
        with app.app_context():
            db.drop_all()
            db.engine.dispose()

    assert response.status_code == 503
    assert response.json["checks"]["storage"] == "not writable"
    assert "storage" in response.json["failing"]


def test_probes_answer_through_a_signed_in_session_without_touching_it(
    app, client, at_head, alice, auth
):
    auth.login(password=PASSWORD)

    response = client.get("/readyz")

    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert json.loads(response.data)["status"] == "ready"


def test_readyz_names_a_bucket_that_is_gone(app_config):
    bucket = new_bucket()
    app_config.pop("STORAGE_DIR", None)
    app_config["STORAGE_URL"] = f"s3://{bucket}/vault"
    with fresh_app(app_config) as app:
        boto3.client("s3").delete_bucket(Bucket=bucket)
        response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.json["checks"]["storage"] == "not writable"
    assert bucket not in response.get_data(as_text=True)
