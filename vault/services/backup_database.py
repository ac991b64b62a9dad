"""The database half of a backup: a consistent copy, and putting it back.

SQLite is copied with its online backup API (one step, so a writer that
commits meanwhile cannot make it start over, and the server keeps running).
PostgreSQL is dumped by `pg_dump --format=custom` from a snapshot this module
exports and keeps open, so the rows the backup reads to pick its blobs are
exactly the rows in the dump. The password, if the URL has one, reaches
pg_dump and pg_restore through PGPASSWORD, never on a command line that `ps`
shows or in a message.
"""

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, func, inspect, select, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from vault.errors import VaultError
from vault.extensions import db
from vault.models import Node, User
from vault.services.storage_migration import file_pages

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


class BackupError(VaultError):
    code = "backup"


@dataclass(frozen=True)
class FileRow:
    """What a backup needs of one file row of the snapshot."""

    id: str
    name: str
    storage_key: str | None
    size: int
    sha256: str | None
    thumbnail_key: str | None


def database_kind() -> str:
    """Return "sqlite" or "postgresql": the kind of the configured database."""
    return db.engine.dialect.name


@contextlib.contextmanager
def snapshot(path: str) -> Iterator[Connection]:
    """Write a consistent copy of the database to `path`; yield a connection to it.

    The connection reads the very state that was copied, for as long as the
    block runs. BackupError if it cannot be made.
    """
    temp = f"{path}.partial"
    try:
        if database_kind() == SQLITE:
            _copy_sqlite(_sqlite_path(), temp)
            os.replace(temp, path)
            with _sqlite_connection(path) as connection:
                yield connection
        else:
            program = _client("pg_dump", path)
            with _pg_snapshot(program, temp) as connection:
                os.replace(temp, path)
                yield connection
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def file_rows(connection: Connection) -> Iterator[FileRow]:
    """Yield every file row (trashed ones too) a page at a time, by id."""
    for rows in file_pages(connection.execute):
        yield from (FileRow(*row) for row in rows)


def revision(connection: Connection) -> str | None:
    """Return the migration the database is at; None if it never had one."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.scalar(text("SELECT version_num FROM alembic_version"))


def is_empty() -> bool:
    """Whether the configured database holds no account and no file."""
    names = set(inspect(db.engine).get_table_names())
    for model in (User, Node):
        if model.__tablename__ in names and db.session.scalar(
            select(func.count()).select_from(model)
        ):
            return False
    return True


def restore(path: str) -> None:
    """Put a copy made by `snapshot` into the configured, empty database."""
    db.session.remove()
    db.engine.dispose()  # no pooled connection may see the old file or schema
    if database_kind() == SQLITE:
        _copy_sqlite(path, _sqlite_path(), journal_mode="WAL", read_only=True)
    else:
        _empty_pg_schema()
        _pg_restore(path)
    db.engine.dispose()


def _sqlite_path() -> str:
    database = db.engine.url.database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database has nothing to back up.")
    return database


def _copy_sqlite(
    source: str, target: str, journal_mode: str = "DELETE", read_only: bool = False
) -> None:
    """Copy a whole SQLite database with the backup API, then fsync it.

    `read_only` for a backup's copy, which may be on read-only media.
    """
    reader = _open_sqlite(source) if read_only else sqlite3.connect(source, timeout=30)
    try:
        writer = sqlite3.connect(target, timeout=30)
        try:
            # All pages in one step: a step-by-step copy starts over whenever
            # another connection writes, so under steady uploads it might never end.
            reader.backup(writer)
            # The copy is one self-contained file; a restored one runs in WAL
            # like every database the app opens.
            writer.execute(f"PRAGMA journal_mode={journal_mode}")
        finally:
            writer.close()
    finally:
        reader.close()
    with open(target, "rb") as copied:
        os.fsync(copied.fileno())


def _open_sqlite(path: str) -> sqlite3.Connection:
    """Open a backup's copy read-only: it stays one file in its journal mode."""
    uri = f"{Path(path).absolute().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=30)


@contextlib.contextmanager
def _sqlite_connection(path: str) -> Iterator[Connection]:
    engine = create_engine(
        "sqlite://", creator=lambda: _open_sqlite(path), poolclass=NullPool
    )
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


@contextlib.contextmanager
def _pg_snapshot(program: str, dump_path: str) -> Iterator[Connection]:
    """Dump the database from a snapshot that stays open while the block runs."""
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            exported = connection.scalar(text("SELECT pg_export_snapshot()"))
            _run(
                [
                    program,
                    "--format=custom",
                    f"--snapshot={exported}",
                    f"--file={dump_path}",
                    _libpq_url(db.engine.url),
                ]
            )
            with open(dump_path, "rb") as dump:
                os.fsync(dump.fileno())
            yield connection


def _empty_pg_schema() -> None:
    """Drop every table, view, sequence and enum in the target's schema.

    `is_empty` has found no account and no file, so only a schema `db upgrade`
    made goes. pg_restore --clean would drop only what the dump holds: a table
    a newer migration added would stay, block dropping the tables it points
    at, and make a later `db upgrade` create it twice. Not DROP SCHEMA: the
    URL's role may own the tables but not the schema, and the schema's grants
    would go with it.
    """
    with db.engine.begin() as connection:
        found = inspect(connection)
        name = found.default_schema_name
        preparer = connection.dialect.identifier_preparer
        schema = preparer.quote_schema(name)
        kinds = (
            ("VIEW", found.get_view_names()),
            ("TABLE", found.get_table_names()),
            ("SEQUENCE", found.get_sequence_names()),
            ("TYPE", [enum["name"] for enum in found.get_enums(name)]),
        )
        for kind, names in kinds:
            for each in names:
                quoted = f"{schema}.{preparer.quote(each)}"
                connection.execute(text(f"DROP {kind} IF EXISTS {quoted} CASCADE"))


def _pg_restore(path: str) -> None:
    _run(
        [
            _client("pg_restore", path),
            # The tables belong to whoever the target's URL names, whoever
            # owned them before.
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={_libpq_url(db.engine.url)}",
            path,
        ]
    )


def _client(program: str, path: str) -> str:
    """Return the path of a PostgreSQL client program; say what to do without it."""
    found = shutil.which(program)
    if found is None:
        url = _libpq_url(db.engine.url)
        command = (
            f"pg_dump --format=custom --file={path} {url}"
            if program == "pg_dump"
            else f"pg_restore --no-owner --single-transaction --dbname={url} {path}"
        )
        raise BackupError(
            f"{program} is not on the PATH. Install PostgreSQL's client programs "
            "(the server's major version or newer; on Debian "
            f"`apt-get install postgresql-client`), or run it yourself: {command} "
            "(see docs/operations.md)."
        )
    return found


def _libpq_url(url: URL) -> str:
    """The URL for libpq programs: no driver name, no password."""
    # Built anew: URL.set() takes password=None as "leave it as it is".
    return URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    ).render_as_string(hide_password=False)


def _run(command: list[str]) -> None:
    environment = dict(os.environ)
    password = db.engine.url.password
    if password:
        environment["PGPASSWORD"] = str(password)
    done = subprocess.run(  # noqa: S603 (our arguments; the URL is configuration)
        command, env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        name = os.path.basename(command[0])
        raise BackupError(f"{name} failed: {done.stderr.strip() or done.returncode}")
