"""Prometheus metrics, served at /metrics when VAULT_METRICS_TOKEN is set.

Off (the default), nothing is imported or counted: every helper here returns
after one dictionary lookup. On, the counters live in this process; under
gunicorn, `vault/gunicorn_observe.py` sets PROMETHEUS_MULTIPROC_DIR before any
worker imports prometheus_client, so each worker writes its values to files
there and a scrape of any worker adds up all of them. Quota reservations are
read from the database at each scrape instead: they are shared by every
server, not counted by one.

Labels are bounded: a Flask endpoint name (never a path, which a client
chooses), a method from a fixed list, a status code.
"""

import hmac
import logging
import os
from contextlib import contextmanager, nullcontext

from flask import Flask, current_app, has_app_context

log = logging.getLogger(__name__)
_KEY = "vault.metrics"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds until the answer's head: downloads and uploads take as long as the
# client does, so their whole duration says little about the server.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# One set per process: prometheus_client refuses to register a name twice.
_instruments = None


class Instruments:
    """The metrics of this process."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = registry = CollectorRegistry()
        self.requests = Counter(
            "vault_http_requests",
            "Requests answered, by endpoint, method and status.",
            ["endpoint", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "vault_http_request_duration_seconds",
            "Seconds from a request's arrival to its answer's head, by endpoint.",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.uploaded = Counter(
            "vault_upload_bytes",
            "Request body bytes read by upload routes.",
            registry=registry,
        )
        self.downloaded = Counter(
            "vault_download_bytes",
            "File and zip bytes answered (sent by vault or handed to the proxy).",
            registry=registry,
        )
        self.active_uploads = Gauge(
            "vault_uploads_active",
            "Upload requests being received now.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.sign_in_failures = Counter(
            "vault_sign_in_failures", "Failed sign-ins.", registry=registry
        )
        self.lockouts = Counter(
            "vault_lockouts",
            "Back-offs and lockouts started, by what was locked (account, share, "
            "address).",
            ["kind"],
            registry=registry,
        )
        self.share_downloads = Counter(
            "vault_share_downloads",
            "Downloads through share links (each response that sends bytes).",
            registry=registry,
        )
        self.sweeps = Counter(
            "vault_sweeps", "Background sweeps run.", registry=registry
        )
        self.sweep_errors = Counter(
            "vault_sweep_errors", "Background sweeps that failed.", registry=registry
        )


def init_app(app: Flask) -> None:
    """Turn metrics on when VAULT_METRICS_TOKEN is set."""
    token = app.config.get("METRICS_TOKEN")
    if not token:
        return
    if not isinstance(token, str) or len(token) < 16:
        raise ValueError(
            "VAULT_METRICS_TOKEN must be text of at least 16 characters, not only"
            " digits (for example from `openssl rand -hex 32`)"
        )
    global _instruments
    if _instruments is None:
        _instruments = Instruments()
    app.extensions[_KEY] = _instruments


def of(app: Flask) -> Instruments | None:
    """Return the app's metrics, None when they are off."""
    return app.extensions.get(_KEY)


def _current() -> Instruments | None:
    return current_app.extensions.get(_KEY) if has_app_context() else None


def authorized(app: Flask, header: str | None) -> bool:
    """Is `header` (an Authorization value) `Bearer <VAULT_METRICS_TOKEN>`?"""
    scheme, _, credentials = (header or "").partition(" ")
    expected = app.config["METRICS_TOKEN"].encode()
    # Constant time: the comparison must not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        credentials.strip().encode(), expected
    )


def exposition(instruments: Instruments) -> tuple[bytes, str]:
    """Return the text a scrape gets (call in an app context) and its type."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import CollectorRegistry, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = instruments.registry
    return generate_latest(registry) + _reservations(), CONTENT_TYPE_LATEST


def _reservations() -> bytes:
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    from vault.services import quotas

    try:
        count, held = quotas.reservation_totals()
    except Exception:  # noqa: BLE001 (the process's own metrics still count)
        log.warning("metrics: the quota reservations could not be read")
        return b""
    registry = CollectorRegistry()
    Gauge(
        "vault_quota_reservations",
        "Quota reservations held by uploads in progress, on every server.",
        registry=registry,
    ).set(count)
    Gauge(
        "vault_quota_reserved_bytes",
        "Bytes those reservations hold.",
        registry=registry,
    ).set(held)
    return generate_latest(registry)


def observe_request(
    app: Flask, endpoint: str, method: str, status: int, seconds: float
) -> None:
    instruments = of(app)
    if instruments is None:
        return
    method = method if method in _METHODS else "OTHER"
    instruments.requests.labels(endpoint, method, str(status)).inc()
    instruments.latency.labels(endpoint).observe(seconds)


@contextmanager
def _receiving(instruments: Instruments, body):
    instruments.active_uploads.inc()
    body.metered, start = True, body.received
    try:
        yield
    finally:
        instruments.active_uploads.dec()
        instruments.uploaded.inc(body.received - start)
        body.metered = False


def receiving(body):
    """Count an upload request while it runs, and the bytes read from `body`.

    `body` is the request's `http.TrackedBody`. An upload route that hands
    over to another (tus: a POST standing in for a PATCH) is counted once.
    """
    instruments = _current()
    if instruments is None or getattr(body, "metered", True):
        return nullcontext()
    return _receiving(instruments, body)


def downloaded(size: int) -> None:
    instruments = _current()
    if instruments is not None and size > 0:
        instruments.downloaded.inc(size)


def sign_in_failed() -> None:
    instruments = _current()
    if instruments is not None:
        instruments.sign_in_failures.inc()


def locked(kind: str) -> None:
    instruments = _current()
    if instruments is not None:
        instruments.lockouts.labels(kind).inc()


def share_download() -> None:
    instruments = _current()
    if instruments is not None:
        instruments.share_downloads.inc()


def swept(failed: bool = False) -> None:
    instruments = _current()
    if instruments is not None:
        instruments.sweeps.inc()
        if failed:
            instruments.sweep_errors.inc()
