"""Work that every server starts on its own, done by one process at a time.

Each serving process of each app server sweeps on a timer (vault/maintenance.py).
Two sweeps at once would do no harm row by row, but they would scan the same
tables, race for the same rows and hold each other's locks. So a sweep first
takes a lock named for it, and a process that finds it taken skips its turn:

- PostgreSQL: an advisory lock in a transaction of a connection of its own.
  Every app server shares it through the database; it goes with the
  transaction, so a process that dies mid-sweep never leaves it held.
- SQLite: the database is a file on one machine, so every process that uses
  it can share an advisory file lock (flock) next to it, which the kernel
  drops with the process. An in-memory database has one process: no lock.
"""

import contextlib
import fcntl
import os
import zlib
from collections.abc import Iterator

from sqlalchemy import text

from vault.extensions import db


@contextlib.contextmanager
def only_one(name: str) -> Iterator[bool]:
    """Yield True while this process holds `name`'s lock; False if another does."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, name) as held:
            yield held
    elif engine.url.database and engine.url.database != ":memory:":
        with _file_lock(f"{engine.url.database}.{name}.lock") as held:
            yield held
    else:
        yield True


def only_one_in(path: str) -> contextlib.AbstractContextManager[bool]:
    """Yield True while this process holds the file lock `path`; False if another does.

    For work on one folder of this machine (a backup into it), whatever the
    database.
    """
    return _file_lock(path)


@contextlib.contextmanager
def _advisory_lock(engine, name: str) -> Iterator[bool]:
    key = zlib.crc32(f"vault:{name}".encode())
    with engine.connect() as connection:
        held = connection.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}
        )
        # Leaving the block rolls the transaction back, and the lock goes too.
        yield bool(held)


@contextlib.contextmanager
def _file_lock(path: str) -> Iterator[bool]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        # Closing drops the lock.
        os.close(descriptor)
