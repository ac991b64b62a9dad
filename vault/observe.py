"""WSGI: every request's id, and its count and latency when metrics are on.

The id joins an answer, the access log line and the app's log records of one
request. A sane incoming `X-Request-Id` (from nginx's $request_id, a load
balancer, a client retrying) is kept; anything else, too long or with
characters a log line should not carry, is replaced by a new one. Either way
it goes back in the answer's `X-Request-Id`.
"""

import re
import secrets
import time

from flask import Flask, request

from vault import metrics

REQUEST_ID_KEY = "vault.request_id"
_OBSERVATION_KEY = "vault.observation"
# Letters, digits and a little punctuation: UUIDs, hex, base64 and the ids
# proxies make all pass; spaces, quotes and control characters never reach a log.
_SANE_ID = re.compile(r"[A-Za-z0-9._:=+/-]{1,128}")
UNMATCHED = "unmatched"


class Observation:
    """What the app tells the middleware about a request: its endpoint."""

    __slots__ = ("endpoint",)

    def __init__(self):
        self.endpoint = UNMATCHED


def init_app(app: Flask) -> None:
    app.wsgi_app = Observed(app, app.wsgi_app)
    if metrics.of(app) is not None:
        app.after_request(_note_endpoint)


def request_id_for(environ) -> str:
    """Return the request's id: the incoming one if sane, else a new one."""
    incoming = environ.get("HTTP_X_REQUEST_ID", "").strip()
    return incoming if _SANE_ID.fullmatch(incoming) else secrets.token_hex(16)


def observation(environ) -> Observation | None:
    return environ.get(_OBSERVATION_KEY)


def _note_endpoint(response):
    # after_request runs for every answer (errors and hooks' answers too); the
    # endpoint, not the path, is the label: a client cannot make up new ones.
    observed = observation(request.environ)
    if observed is not None:
        observed.endpoint = request.endpoint or UNMATCHED
    return response


class Observed:
    """WSGI middleware: request ids, and request metrics.

    Inside `http.CloseAfterUnreadBody`, which needs the server's own
    start_response, not this one's.
    """

    def __init__(self, app: Flask, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app
        self._measure = metrics.of(app) is not None

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        request_id = request_id_for(environ)
        environ[REQUEST_ID_KEY] = request_id
        observed = environ[_OBSERVATION_KEY] = Observation()
        counted = not self._measure

        def start(status, headers, exc_info=None):
            nonlocal counted
            if not counted:
                counted = True
                seconds = time.perf_counter() - started
                metrics.observe_request(
                    self.app,
                    observed.endpoint,
                    environ.get("REQUEST_METHOD", ""),
                    int(status[:3]),
                    seconds,
                )
            headers = [
                (name, value)
                for name, value in headers
                if name.lower() != "x-request-id"
            ]
            headers.append(("X-Request-Id", request_id))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)
