"""Absolute URLs we hand out: share links, tus Locations, password-reset links.

A link outlives the request that made it (it is copied, mailed, stored by a
tus client), so it must not carry whatever Host a client sent. With
VAULT_BASE_URL set, every link is built from it; without it, from the
request's host, which Flask checks against TRUSTED_HOSTS (VAULT_TRUSTED_HOSTS,
by default only this machine's loopback names) and refuses with 400 otherwise.
"""

from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, request, url_for
from flask.globals import request_ctx
from werkzeug.exceptions import SecurityError

from vault.errors import VaultError

# Reached from this machine only: `make run` on a fresh machine keeps working.
LOOPBACK_HOSTS = ["localhost", "127.0.0.1"]


class NoBaseURL(VaultError):
    status = 500
    code = "no_base_url"
    message = (
        "Outside a request the vault's address is unknown: set VAULT_BASE_URL "
        "(for example https://vault.example.com)."
    )


def init_app(app: Flask) -> None:
    """Refuse unusable hosts before any other hook runs (they would build URLs)."""
    app.before_request(refuse_unusable_host)


def refuse_unusable_host():
    """Answer 400 in plain text to a Host we may not or cannot build URLs with.

    Flask leaves no URL adapter for a Host outside TRUSTED_HOSTS, or one it
    cannot parse: every url_for, an error page's included, would then raise.
    """
    if request_ctx.url_adapter is not None:
        return None
    if isinstance(request.routing_exception, SecurityError):
        current_app.logger.warning(
            "refused a request for the untrusted host %r: set VAULT_TRUSTED_HOSTS "
            "or VAULT_BASE_URL to answer it",
            request.environ.get("HTTP_HOST", "")[:100],
        )
        message = "This server does not answer to the name in the Host header.\n"
    else:
        message = "Bad Request: the Host header is not valid.\n"
    return current_app.response_class(message, status=400, mimetype="text/plain")


def check_base_url(value: str | None) -> str | None:
    """Return VAULT_BASE_URL without a trailing slash; raise ValueError if bad."""
    if not value:
        return None
    url = urlsplit(value.strip())
    try:
        url.port  # noqa: B018 (raises ValueError for a port that is not one)
    except ValueError:
        url = None
    if (
        url is None
        or url.scheme not in ("http", "https")
        or not url.hostname
        or url.username is not None
        or url.query
        or url.fragment
    ):
        raise ValueError(
            f"VAULT_BASE_URL must be scheme://host[:port][/path], such as "
            f"https://vault.example.com, not {value!r}"
        )
    return url.geturl().rstrip("/")


def trusted_hosts(value, base_url: str | None) -> list[str]:
    """Return the host names requests may carry (a list or comma-separated text).

    Unset: the loopback names, and the host of VAULT_BASE_URL if set.
    """
    if value is None or value == "":
        hosts = list(LOOPBACK_HOSTS)
        if base_url:
            hosts.append(urlsplit(base_url).hostname)
        return hosts
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return [host.strip() for host in value if host.strip()]


def external_url(endpoint: str, **values) -> str:
    """Return the absolute URL of `endpoint`: from VAULT_BASE_URL, else the request.

    Raises NoBaseURL outside a request without VAULT_BASE_URL (the CLI).
    """
    base = current_app.config["BASE_URL"]
    if base is None:
        if not has_request_context():
            raise NoBaseURL()
        return url_for(endpoint, _external=True, **values)
    url = urlsplit(base)
    adapter = current_app.url_map.bind(
        url.netloc, script_name=url.path or "/", url_scheme=url.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def app_path(endpoint: str, **values) -> str:
    """Return the path of `endpoint` below the vault's root, needing no request."""
    return current_app.url_map.bind("").build(endpoint, values)
