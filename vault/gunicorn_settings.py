"""gunicorn settings for vault: what `vault serve` runs with.

gunicorn reads them as `-c python:vault.gunicorn_settings`; the checkout's
gunicorn.conf.py imports them, for `gunicorn -c gunicorn.conf.py wsgi:app`.
They live in the package so that an installed vault has them too.

Uploads are long, slow requests. Threaded workers keep answering other requests
while a few threads sit on uploads; a sync worker would be held (and killed by
its timeout) for the whole upload.
"""

import os
import socket

bind = os.environ.get("VAULT_BIND", "127.0.0.1:8000")
# gthread, except that requests are read in the event loop, so slow clients hold
# no thread; VAULT_CLIENT_TIMEOUT bounds how slow (see vault/worker.py).
worker_class = "vault.worker.ThreadWorker"


def _count(name: str, default: int) -> int:
    """Read a count of processes or threads from the environment, or refuse."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        # gunicorn prints a SystemExit's message and stops, without a traceback.
        raise SystemExit(f"{name} must be a whole number above 0, not {text!r}")
    return count


workers = _count("VAULT_WORKERS", 2)
threads = _count("VAULT_THREADS", 8)
# A worker only times out when it stops answering gunicorn's heartbeat; with
# threads the heartbeat continues during uploads, so this bounds hangs only.
timeout = 120
graceful_timeout = 30
keepalive = 5
# Each worker listens on its own socket (SO_REUSEPORT) and the kernel spreads
# new connections over them. On one shared socket, whichever worker wakes
# first takes a burst of connections, and kept-alive clients stay there: one
# worker would serve them all on one core while the other idles.
reuse_port = True
# Headers only: bodies are streamed by the app.
limit_request_field_size = 16384

# Logs and metrics (vault/gunicorn_observe.py): an access log with secrets cut
# out, and metrics added up over every worker when VAULT_METRICS_TOKEN is set.
# prepare_metrics() runs here, in the master, before any worker imports
# prometheus_client.
from vault import gunicorn_observe  # noqa: E402

logger_class = "vault.gunicorn_observe.VaultLogger"
accesslog = gunicorn_observe.access_log()
access_log_format = gunicorn_observe.ACCESS_LOG_FORMAT
child_exit = gunicorn_observe.child_exit
on_exit = gunicorn_observe.on_exit
gunicorn_observe.prepare_metrics()


def on_starting(server):
    """Refuse to start where another server already listens.

    With reuse_port the kernel would let a second server (a stale one left
    running, a deploy that did not stop the old one) bind the same port, and
    each would silently take part of the connections.
    """
    if server.master_pid:
        return  # an upgrade in place (USR2): the old server hands over
    for address in server.cfg.bind:
        _check_free(server, address)


def _check_free(server, address: str) -> None:
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        return  # a unix socket: gunicorn checks it itself
    for family, kind, proto, _, sockaddr in socket.getaddrinfo(
        host.strip("[]") or None, int(port), type=socket.SOCK_STREAM
    ):
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(sockaddr)
            except OSError as error:
                server.log.error("Cannot listen at %s: %s", address, error.strerror)
                raise SystemExit(1) from error
