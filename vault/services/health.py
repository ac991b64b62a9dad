"""Readiness: can this process do its work (GET /readyz)?

Three checks, each "ok" or a short reason that reveals nothing secret (no
URL, no exception text: those go to the log by class name only):

- database: a connection answers SELECT 1;
- storage: a probe blob can be written through the store and deleted (the
  same path uploads take, on a local folder or S3);
- migrations: the database's alembic revision is the head of this release's
  migrations directory.

A check that starts or stops failing is logged once, not at every probe.
Anyone may ask, as often as they like: a process answers from its last round
of checks for CACHE_SECONDS, so probes cost at most one round (a database
connection, a blob written and deleted: on S3, billed requests) that long.
"""

import logging
import threading
import time

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text
from sqlalchemy.engine import Connection

from vault.errors import StorageFull
from vault.extensions import db
from vault.models import new_id
from vault.storage import get_storage

OK = "ok"
log = logging.getLogger(__name__)
_PROBE = b"vault readiness probe\n"
# The heads of a migrations directory: its files do not change under a
# running release, and reading them costs a few milliseconds.
_heads: dict[str, frozenset[str]] = {}
_FAILING = "vault.readiness_failing"  # the checks failing at the last probe
_failing_lock = threading.Lock()
CACHE_SECONDS = 2.0
_LAST = "vault.readiness_last"  # (when, checks) of the last round
_round_lock = threading.Lock()


def readiness() -> dict[str, str]:
    """Return each check's outcome: OK, or why not (at most CACHE_SECONDS old)."""
    # One round at a time in a process: probes that come together share it.
    with _round_lock:
        last = current_app.extensions.get(_LAST)
        if last is not None and time.monotonic() - last[0] < CACHE_SECONDS:
            return dict(last[1])
        checks = _check()
        current_app.extensions[_LAST] = (time.monotonic(), checks)
        return dict(checks)


def _check() -> dict[str, str]:
    checks = {}
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            checks["database"] = OK
            checks["migrations"] = _migrations(connection)
    except Exception as error:  # noqa: BLE001 (any failure means not ready)
        _log_error("database", error)
        checks["database"] = "unreachable"
        checks.setdefault("migrations", "unknown: the database is unreachable")
    checks["storage"] = _storage()
    _log_changes(checks)
    return checks


def _migrations(connection: Connection) -> str:
    try:
        current = frozenset(MigrationContext.configure(connection).get_current_heads())
    except Exception as error:  # noqa: BLE001
        _log_error("migrations", error)
        return "unknown: the revision could not be read"
    heads = _code_heads()
    if current == heads:
        return OK
    if "migrations" not in _failing():
        # The revisions go to the operator's log, not to whoever asks.
        log.warning(
            "readiness: the database is at %s, this release at %s",
            ", ".join(sorted(current)) or "none",
            ", ".join(sorted(heads)),
        )
    return "the database schema is not this release's: run `vault db upgrade`"


def _code_heads() -> frozenset[str]:
    directory = current_app.extensions["migrate"].directory
    if directory not in _heads:
        config = Config()
        config.set_main_option("script_location", directory)
        _heads[directory] = frozenset(ScriptDirectory.from_config(config).get_heads())
    return _heads[directory]


def _storage() -> str:
    store = get_storage()
    # A namespace of its own each time: probes of several processes never
    # touch each other's blob, and nobody's files are near it.
    namespace = new_id()
    writer = None
    try:
        writer = store.new_writer(namespace)
        writer.write(_PROBE)
        writer.commit()
        store.delete(writer.key)
        store.delete_namespace(namespace)
        return OK
    except StorageFull:
        return "full"
    except Exception as error:  # noqa: BLE001
        _log_error("storage", error)
        return "not writable"
    finally:
        if writer is not None:
            writer.discard()  # harmless after a commit (BlobWriter's contract)


def _failing() -> set[str]:
    return current_app.extensions.setdefault(_FAILING, set())


def _log_error(check: str, error: Exception) -> None:
    # The class only: a driver's message may carry a host, user or URL. Once
    # per outage, like the failure itself.
    if check not in _failing():
        log.warning("readiness: the %s check raised %s", check, type(error).__name__)


def _log_changes(checks: dict[str, str]) -> None:
    failing = _failing()
    with _failing_lock:
        for name, outcome in checks.items():
            if outcome != OK and name not in failing:
                failing.add(name)
                log.warning("not ready: %s check: %s", name, outcome)
            elif outcome == OK and name in failing:
                failing.discard(name)
                log.warning("ready again: %s check passes", name)
