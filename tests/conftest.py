import os
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.mailserver import smtp_server
from tests.s3server import new_bucket
from tests.servers import served
from vault import create_app
from vault.extensions import db
from vault.models import User
from vault.services import outbox

# CI runs the suite a second time against PostgreSQL through this variable.
TEST_DATABASE_URL = os.environ.get("VAULT_TEST_DATABASE_URL")
# "s3": the apps under test keep their bytes in a bucket of the test S3
# server (tests/s3server.py) instead of a folder; see `make test-s3`.
TEST_STORAGE = os.environ.get("VAULT_TEST_STORAGE", "local")
PASSWORD = "correct horse battery"


def storage_settings(tmp_path) -> dict:
    """Where a test app keeps its bytes: a folder in tmp_path, or a new bucket."""
    if TEST_STORAGE == "s3":
        return {"STORAGE_URL": f"s3://{new_bucket()}/vault"}
    return {"STORAGE_DIR": str(tmp_path / "storage")}


def base_config(tmp_path) -> dict:
    """Configuration for a test app with its database and storage in tmp_path."""
    return {
        **storage_settings(tmp_path),
        "TESTING": True,
        "SECRET_KEY": "test secret key",
        "DATABASE_URL": TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'vault.db'}",
        "PASSWORD_HASH_PROFILE": "CHEAPEST",
        "MAX_UPLOAD_BYTES": 8 * 1024 * 1024,
        # No cleanup thread per test app; tests/test_maintenance.py turns it on.
        "CLEANUP_SECONDS": 0,
        # This machine (the test client, live servers) and what HTTPS tests use.
        "TRUSTED_HOSTS": ["localhost", "127.0.0.1", "vault.example"],
    }


def pytest_collection_modifyitems(items):
    """Skip tests of what only a local store does when the store is S3."""
    if TEST_STORAGE != "s3":
        return
    skip = pytest.mark.skip(reason="needs a local store, not S3")
    for item in items:
        if item.get_closest_marker("local_storage"):
            item.add_marker(skip)


@pytest.fixture
def app_config(tmp_path):
    """Configuration for the app under test; tests may change it before `app`."""
    return base_config(tmp_path)


@contextmanager
def fresh_app(config):
    """An app on an empty schema, dropped again (and its pool closed) after."""
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.create_all()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


@pytest.fixture
def app(app_config):
    with fresh_app(app_config) as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    def make(email, password=PASSWORD, **options):
        with app.app_context():
            return factories.create_user(email, password, **options)

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice@example.com", is_admin=True)


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.com")


def stored_user(app, email) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class AuthActions:
    def __init__(self, client):
        self._client = client

    def csrf_token(self, page="/login") -> str:
        return csrf_token_from(self._client.get(page).get_data(as_text=True))

    def login(self, email="alice@example.com", password=PASSWORD, remember=False):
        data = {"email": email, "password": password, "csrf_token": self.csrf_token()}
        if remember:
            data["remember"] = "y"
        return self._client.post("/login", data=data)

    def logout(self):
        token = self.csrf_token("/account")
        return self._client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def api_headers(app):
    """Return bearer headers for a user, through a real token."""

    def headers_for(user):
        with app.app_context():
            return {"Authorization": f"Bearer {factories.create_token(user)}"}

    return headers_for


@pytest.fixture
def upload(app):
    """Store a file for a user through the real upload service."""

    def store(user, name="notes.txt", content=b"hello vault\n", **options):
        with app.app_context():
            return factories.store_file(user, name, content, **options)

    return store


@pytest.fixture
def make_folder(app):
    """Create a folder for a user (parent_id None is the root)."""

    def create(user, name, parent_id=None, **options):
        with app.app_context():
            return factories.create_folder(user, name, parent_id, **options)

    return create


@pytest.fixture
def trash_item(app):
    """Delete a user's file or folder to the trash through the real service."""

    def delete(user, node, **options):
        with app.app_context():
            return factories.trash_node(user, node.id, **options)

    return delete


@pytest.fixture
def as_alice(alice, auth):
    """Alice, signed in on `client`."""
    auth.login()
    return alice


@pytest.fixture
def gunicorn(app, tmp_path):
    """Serve the test database and storage from three gunicorn worker processes."""
    with served(
        app,
        tmp_path / "gunicorn.log",
        workers=3,
        threads=4,
        max_upload_bytes=app.config["MAX_UPLOAD_BYTES"],
    ) as (port, _):
        yield port


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1; `smtp.settings()` make an app send there."""
    with smtp_server() as server:
        yield server


@pytest.fixture
def deliver(app):
    """Send the outbox now, as the background sender does; return (sent, failed)."""

    def send(now=None):
        with app.app_context():
            return outbox.deliver_pending(now)

    return send
