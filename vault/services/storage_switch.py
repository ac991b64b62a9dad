"""Where the bytes live, once `flask storage migrate` has moved them.

The switch-over is a row in the database (`settings`), so every app server
sharing that database starts on the new store. An explicit VAULT_STORAGE_URL
still wins, loudly (see vault/__init__.py `_configure_storage`).
"""

import os

from sqlalchemy import create_engine, delete, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from vault.extensions import db
from vault.models import utcnow
from vault.models_upkeep import Setting

CURRENT = "storage.url"
PREVIOUS = "storage.previous_url"


def recorded_url(database_uri: str) -> str | None:
    """Return the store a migration switched to, read before the app's engine.

    Read over a connection of its own that is closed at once: a gunicorn
    master must not hand a pooled connection to the workers it forks. A
    database not upgraded yet (a fresh install) has recorded nothing.
    """
    url = make_url(database_uri)
    if url.get_backend_name() == "sqlite" and not os.path.exists(url.database or ""):
        return None
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(Setting.__tablename__):
                return None
            return connection.scalar(
                select(Setting.value).where(Setting.name == CURRENT)
            )
    finally:
        engine.dispose()


def previous_url() -> str | None:
    """Return the store the bytes were in before the last switch-over."""
    setting = db.session.get(Setting, PREVIOUS)
    return setting.value if setting is not None else None


def record(current: str, previous: str) -> None:
    """Record a switch-over; the caller commits."""
    for name, value in ((CURRENT, current), (PREVIOUS, previous)):
        setting = db.session.get(Setting, name) or Setting(name=name)
        setting.value, setting.updated_at = value, utcnow()
        db.session.add(setting)


def forget() -> None:
    """Forget any recorded switch-over (a restored database's); the caller commits."""
    db.session.execute(delete(Setting).where(Setting.name.in_((CURRENT, PREVIOUS))))
