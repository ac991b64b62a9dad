"""Housekeeping the app does by itself, as `flask --app vault cleanup` does.

Every serving process runs a daemon thread, started by its first request, that
every VAULT_CLEANUP_SECONDS (0 turns it off) removes expired resumable uploads,
releases quota that dead uploads still hold, purges what has been in the trash
longer than VAULT_TRASH_DAYS (as `purge-trash` does) and deletes share links
that ended (expired or revoked) over VAULT_ENDED_LINK_DAYS ago. So none of it
needs cron. However many processes and app servers do so, one sweeps at a
time: a sweep takes a lock they share (vault/services/exclusive.py), and a
process that finds it taken skips its turn. Even without it no work would be
done twice: each row is removed by one process only, and bytes only by the
one that removed the row.
"""

import os
import threading
from dataclasses import dataclass

from flask import Flask

from vault import metrics
from vault.extensions import db
from vault.services import exclusive, quotas, resumable_expiry, shares, trash


def init_app(app: Flask) -> None:
    seconds = app.config["CLEANUP_SECONDS"]
    if seconds:
        sweeper = Sweeper(app, seconds)
        app.extensions["vault.sweeper"] = sweeper
        app.before_request(sweeper.start)


@dataclass(frozen=True)
class Swept:
    """What one sweep did."""

    uploads: int  # expired resumable uploads removed
    upload_bytes: int  # the bytes they had received
    reservations: int  # expired reservations released
    trashed: int  # items purged from the trash
    links: int  # ended share links deleted


def sweep() -> Swept:
    """Remove expired uploads and reservations, the old trash and ended links."""
    count, received = resumable_expiry.remove_expired()
    return Swept(
        count,
        received,
        quotas.release_expired(),
        trash.purge_expired(),
        shares.purge_ended(),
    )


def sweep_unless_busy() -> Swept | None:
    """Sweep, unless another process is sweeping now: then return None."""
    with exclusive.only_one("sweep") as held:
        return sweep() if held else None


class Sweeper:
    """A thread that sweeps every `seconds`, the first time after one wait."""

    thread_name = "vault-cleanup"

    def __init__(self, app: Flask, seconds: float):
        self._app, self._seconds = app, seconds
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def start(self) -> None:
        """Start the thread in this process, unless it runs (cheap: every request)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            # A forked child inherits the flag but not the thread.
            if self._pid != os.getpid():
                self._thread = threading.Thread(
                    target=self._run, name=self.thread_name, daemon=True
                )
                self._thread.start()
                self._pid = os.getpid()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self._seconds):
            with self._app.app_context():
                try:
                    swept = sweep_unless_busy()
                    self._log(swept)
                    if swept is not None:  # not skipped for another process
                        metrics.swept()
                except Exception:
                    # The next round tries again; the operator sees why.
                    self._app.logger.exception("cleanup failed")
                    metrics.swept(failed=True)
                finally:
                    db.session.remove()

    def _log(self, swept: Swept | None) -> None:
        # At INFO: an operator who wants to see the sweeps turns it on.
        if swept is None:
            self._app.logger.info("cleanup: skipped, another process is sweeping")
        else:
            self._app.logger.info(
                "cleanup: removed %d expired uploads (%d bytes), "
                "released %d expired reservations, purged %d items from the "
                "trash, deleted %d ended share links",
                swept.uploads,
                swept.upload_bytes,
                swept.reservations,
                swept.trashed,
                swept.links,
            )
