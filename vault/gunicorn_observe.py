"""gunicorn's side of logs and metrics (named in gunicorn.conf.py).

The access log is on by default (VAULT_ACCESS_LOG: `-` for stdout, a file, or
`off`), in gunicorn's combined format plus the duration and the request id,
or one line of JSON per request with VAULT_LOG_FORMAT=json. `VaultLogger`
writes the request line, path, query, Referer, headers and environ values
through `vault.redaction` whatever `access_log_format` asks for, so no share,
reset or tus secret, Authorization header or cookie reaches the log, and its
filter cleans gunicorn's error log the same way.

Metrics across workers: with VAULT_METRICS_TOKEN set, `prepare_metrics` (run
as the configuration loads in the master, before any worker imports
prometheus_client) points PROMETHEUS_MULTIPROC_DIR at an empty directory,
`child_exit` drops the live gauges of a worker that ended, and `on_exit`
removes a directory we made.
"""

import functools
import glob
import json
import os
import re
import shutil
import tempfile
from datetime import UTC, datetime

from gunicorn import glogging

from vault.observe import REQUEST_ID_KEY
from vault.redaction import (
    SECRET_RESPONSE_HEADERS,
    RedactingFilter,
    redact_header,
    redact_path,
    redact_query,
    redact_target,
    redact_text,
)

# gunicorn's default, then milliseconds and the request id.
ACCESS_LOG_FORMAT = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
    "%(M)sms %({x-request-id}o)s"
)
_ATOM = re.compile(r"%\(([^)]+)\)")
_MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
# Set by prepare_metrics: the master that prepared the directory, and whether
# we made it (then on_exit removes it).
_PREPARED_BY = "VAULT_METRICS_PREPARED_BY"
_MADE = "VAULT_METRICS_MADE_DIR"


def access_log() -> str | None:
    """Return gunicorn's `accesslog`: VAULT_ACCESS_LOG, `-` (stdout) by default."""
    value = os.environ.get("VAULT_ACCESS_LOG", "").strip() or "-"
    return None if value.lower() == "off" else value


def prepare_metrics() -> None:
    """Give the workers an empty multiprocess directory when metrics are on."""
    if not os.environ.get("VAULT_METRICS_TOKEN"):
        return
    if os.environ.get(_PREPARED_BY) == str(os.getpid()):
        return  # a reload (HUP): the workers' files are still in use
    directory = os.environ.get(_MULTIPROC)
    if directory:
        os.makedirs(directory, exist_ok=True)
        # Values of a former run would be added to this one's.
        for stale in glob.glob(os.path.join(directory, "*.db")):
            os.remove(stale)
    else:
        os.environ[_MULTIPROC] = tempfile.mkdtemp(prefix="vault-metrics-")
        os.environ[_MADE] = "1"
    os.environ[_PREPARED_BY] = str(os.getpid())


def child_exit(server, worker) -> None:
    """gunicorn hook: a worker ended; its live gauges (uploads now) go with it."""
    if os.environ.get(_MULTIPROC):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    """gunicorn hook: remove the metrics directory we made."""
    if os.environ.get(_MADE) and os.environ.get(_MULTIPROC):
        shutil.rmtree(os.environ[_MULTIPROC], ignore_errors=True)


class VaultLogger(glogging.Logger):
    """gunicorn's logger, with secrets cut out and an optional JSON access log."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                    handler.addFilter(RedactingFilter())

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        # Only the header and environ atoms the format asks for are kept (the
        # rest would be '-' anyway): redacting every one costs more than the
        # rest of a small request.
        asked = _asked_atoms(self.cfg.access_log_format)
        safe = {key: value for key, value in atoms.items() if not key.endswith("}")}
        for key in asked & atoms.keys():
            safe[key] = _redact_atom(key, atoms[key])
        target = environ.get("RAW_URI", "") or environ.get("PATH_INFO", "")
        safe.update(
            r=f"{environ.get('REQUEST_METHOD', '')} {redact_target(target)} "
            f"{environ.get('SERVER_PROTOCOL', '')}",
            U=redact_path(environ.get("PATH_INFO", "")),
            q=redact_query(environ.get("QUERY_STRING", "")),
            f=redact_target(environ.get("HTTP_REFERER", "-")),
            a=redact_text(environ.get("HTTP_USER_AGENT", "-")),
        )
        return safe

    def access(self, resp, req, environ, request_time) -> None:
        if os.environ.get("VAULT_LOG_FORMAT", "text").lower() != "json":
            return super().access(resp, req, environ, request_time)
        if not self.access_log_enabled:
            return None
        atoms = self.atoms(resp, req, environ, request_time)
        self.access_log.info(json.dumps(_json_entry(atoms, environ)))
        return None


@functools.cache
def _asked_atoms(log_format: str) -> frozenset[str]:
    """The header and environ atoms (`{name}i`, `{name}o`, `{name}e`) a format uses."""
    # SafeAtoms looks them up in lower case.
    return frozenset(
        key.lower() for key in _ATOM.findall(log_format) if key.startswith("{")
    )


def _redact_atom(key: str, value) -> str:
    name, kind = key[1:-2], key[-1]
    if kind == "i":
        return redact_header(name, str(value))
    if kind == "o":
        return redact_header(name, str(value), SECRET_RESPONSE_HEADERS)
    if not isinstance(value, str):
        return "-"  # wsgi.input and the like: nothing to log
    if name in ("raw_uri", "request_uri"):
        return redact_target(value)  # judged decoded, like the request line
    if name == "query_string":
        return redact_query(value)
    header = name[5:].replace("_", "-") if name.startswith("http_") else ""
    return redact_header(header, value)


def _json_entry(atoms: dict, environ) -> dict:
    sent = atoms.get("B")
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "remote": atoms["h"],
        "method": atoms["m"],
        "path": atoms["U"],
        "query": atoms["q"],
        "protocol": atoms["H"],
        "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
        "bytes": sent if isinstance(sent, int) else None,
        "duration_ms": round(atoms["D"] / 1000, 3),
        "referer": atoms["f"],
        "user_agent": atoms["a"],
        "request_id": environ.get(REQUEST_ID_KEY, "-"),
    }
