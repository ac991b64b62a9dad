"""The background sender: each serving process sends the outbox's mail.

A daemon thread per process, started by its first request (as the sweeper
is), sends what is due every VAULT_MAIL_POLL_SECONDS, and at once when this
process queued a mail (services/outbox.py wakes it after the commit). Several
processes and servers may run one each: every mail is claimed by one sender.
With polling off (0), `flask --app vault mail send` from cron sends instead.
"""

import threading

from flask import Flask

from vault.extensions import db
from vault.maintenance import Sweeper
from vault.services import outbox


def init_app(app: Flask) -> None:
    seconds = app.config["MAIL_POLL_SECONDS"]
    if app.config["SMTP"] is not None and seconds:
        sender = MailSender(app, seconds)
        app.extensions["vault.mail_sender"] = sender
        app.before_request(sender.start)


class MailSender(Sweeper):
    """A thread that sends due mail now, then every `seconds` or when woken."""

    thread_name = "vault-mail"

    def __init__(self, app: Flask, seconds: float):
        super().__init__(app, seconds)
        self._due = threading.Event()

    def wake(self) -> None:
        self._due.set()

    def stop(self) -> None:
        self._stopping.set()
        self._due.set()
        super().stop()

    def _run(self) -> None:
        while not self._stopping.is_set():
            # Cleared before sending: a mail queued meanwhile wakes the next round.
            self._due.clear()
            with self._app.app_context():
                try:
                    outbox.deliver_pending()
                except Exception:
                    # Each mail's failure is handled and logged by the outbox;
                    # this is the database gone away. The next round retries.
                    self._app.logger.exception("sending mail failed")
                finally:
                    db.session.remove()
            self._due.wait(self._seconds)
