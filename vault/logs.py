"""The app's own log: what an operator should see, without a secret in it.

Records of the `vault` logger and its children (lockouts, a full disk, fsck
problems, a failed sweep, readiness) go to stderr, where gunicorn's error log
goes too, each with the id of the request it happened in. Every record passes
`redaction.RedactingFilter` first, so even Flask's "Exception on /s/<token>"
shows no token. VAULT_LOG_FORMAT=json makes each record one line of JSON,
like the access log.
"""

import json
import logging
from datetime import UTC, datetime

from flask import Flask, has_request_context, request
from flask.logging import default_handler, wsgi_errors_stream

from vault.observe import REQUEST_ID_KEY
from vault.redaction import RedactingFilter

LOG_FORMATS = ("text", "json")
_TEXT_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        found = None
        if has_request_context():
            found = request.environ.get(REQUEST_ID_KEY)
        record.request_id = found or "-"
        return True


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if record.request_id != "-":
            line += f" request_id={record.request_id}"
        return line


class JsonFormatter(logging.Formatter):
    """One line of JSON per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry)


def _make_handler() -> logging.Handler:
    # Flask's own stream: wsgi.errors in a request, else sys.stderr as it is
    # at the time (tests swap it).
    handler = logging.StreamHandler(wsgi_errors_stream)
    handler.addFilter(_RequestId())
    handler.addFilter(RedactingFilter())
    return handler


# One per process: the `vault` logger is one per process too.
_handler = _make_handler()


def init_app(app: Flask) -> None:
    """Put the redacting handler on the app's logger, before Flask adds its own."""
    log_format = app.config["LOG_FORMAT"]
    if log_format not in LOG_FORMATS:
        raise ValueError("VAULT_LOG_FORMAT must be 'text' or 'json'")
    if log_format == "json":
        _handler.setFormatter(JsonFormatter())
    else:
        _handler.setFormatter(_TextFormatter(_TEXT_FORMAT))
    logger = logging.getLogger(app.import_name)
    # Ours replaces Flask's, which a record logged while configuring (a
    # warning about the store) may have put there: each line once, redacted.
    logger.removeHandler(default_handler)
    if _handler not in logger.handlers:
        logger.addHandler(_handler)
