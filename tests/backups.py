"""Backups in tests: an empty instance to restore into, and what to compare."""

import contextlib
import secrets

import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from tests.conftest import TEST_DATABASE_URL, base_config
from vault import create_app
from vault.extensions import db
from vault.models import Node
from vault.services import fsck
from vault.storage import get_storage


@contextlib.contextmanager
def scratch_database(tmp_path):
    """Yield the URL of a new, empty database, dropped again after the block.

    On PostgreSQL a database of its own on the test server; else a SQLite file.
    """
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'vault.db'}"
        return
    name = f"vault_restore_{secrets.token_hex(6)}"
    server = make_url(TEST_DATABASE_URL).set(drivername="postgresql")
    admin = server.render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def empty_instance(tmp_path):
    """Yield an app on an empty database (no tables) and an empty store."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    with scratch_database(tmp_path) as url:
        app = create_app({**base_config(tmp_path), "DATABASE_URL": url})
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def files_by_id(app) -> dict[str, tuple]:
    """Every file row (trashed too): {id: (name, size, sha256, trashed)}."""
    with app.app_context():
        rows = db.session.execute(
            select(Node.id, Node.name, Node.size, Node.sha256, Node.trashed_at).where(
                Node.is_folder.is_(False)
            )
        ).all()
        return {
            row.id: (row.name, row.size, row.sha256, row.trashed_at) for row in rows
        }


def stored_hashes(app) -> dict[str, str | None]:
    """{file id: the SHA-256 of its blob as the store holds it, None if missing}."""
    with app.app_context():
        store = get_storage()
        rows = db.session.execute(
            select(Node.id, Node.storage_key).where(Node.is_folder.is_(False))
        ).all()
        return {
            row.id: store.sha256(row.storage_key)
            if store.exists(row.storage_key)
            else None
            for row in rows
        }


def fsck_problems(app) -> list[str]:
    with app.app_context():
        return [problem.message for problem in fsck.check().problems]
