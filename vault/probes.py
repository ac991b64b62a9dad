"""WSGI: /healthz, /readyz and /metrics, answered before the app's own hooks.

A load balancer or Prometheus asks by the backend's address (a Host that
VAULT_TRUSTED_HOSTS rightly refuses), with no session, before the first
account exists, and several times a second. So these answers build no URL,
load no session, start no sweeper and are never sent to the setup page: they
come before Flask's hooks. /healthz touches nothing (the process answers, so
it lives); /readyz runs `services.health`; /metrics is 404 without
VAULT_METRICS_TOKEN, and with it answers only to `Authorization: Bearer <token>`.
"""

import json

from flask import Flask

from vault import metrics
from vault.observe import observation
from vault.services import health

_TEXT = "text/plain; charset=utf-8"
_COMMON = [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]


class Probes:
    """WSGI middleware answering the probe paths; everything else goes on."""

    def __init__(self, app: Flask, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app
        self._answers = {
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            # Off, a plain 404 here: not the setup page on a fresh install,
            # and nothing of the app's (sessions, hooks) spent on scrapers.
            "/metrics": self._metrics if metrics.of(app) else self._no_metrics,
        }

    def __call__(self, environ, start_response):
        answer = self._answers.get(environ.get("PATH_INFO", ""))
        if answer is None:
            return self.wsgi_app(environ, start_response)
        name = environ["PATH_INFO"].lstrip("/")
        observed = observation(environ)
        if observed is not None:
            observed.endpoint = name
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            status, headers, body = (
                "405 Method Not Allowed",
                [("Content-Type", _TEXT), ("Allow", "GET, HEAD")],
                b"Only GET and HEAD are allowed here.\n",
            )
        else:
            status, headers, body = answer(environ)
        headers = [*headers, *_COMMON, ("Content-Length", str(len(body)))]
        start_response(status, headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def _healthz(self, environ):
        return "200 OK", [("Content-Type", _TEXT)], b"ok\n"

    def _readyz(self, environ):
        with self.app.app_context():
            checks = health.readiness()
        failing = sorted(name for name, outcome in checks.items() if outcome != "ok")
        body = {"status": "not ready" if failing else "ready", "checks": checks}
        if failing:
            body["failing"] = failing
        status = "503 Service Unavailable" if failing else "200 OK"
        text = json.dumps(body, sort_keys=True).encode() + b"\n"
        return status, [("Content-Type", "application/json")], text

    def _no_metrics(self, environ):
        return "404 Not Found", [("Content-Type", _TEXT)], b"Not found.\n"

    def _metrics(self, environ):
        if not metrics.authorized(self.app, environ.get("HTTP_AUTHORIZATION")):
            return (
                "401 Unauthorized",
                [
                    ("Content-Type", _TEXT),
                    ("WWW-Authenticate", 'Bearer realm="metrics"'),
                ],
                b"Send Authorization: Bearer with the metrics token.\n",
            )
        with self.app.app_context():
            body, content_type = metrics.exposition(metrics.of(self.app))
        return "200 OK", [("Content-Type", content_type)], body
