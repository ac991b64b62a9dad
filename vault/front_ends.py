"""Which front end answers a request, and how it shows an error.

Each front end (the JSON API, tus, later WebDAV) registers its blueprint here
when it is set up: the renderer that turns an error into its kind of answer,
and the path it owns for URLs that match none of its routes. The app's
handlers work out the status, code and message of an error once, and hand
them to the renderer of the front end answering the request; a request no
front end claims gets the app's default, HTML pages.

Flask calls a blueprint's own error handlers only for URLs that matched one of
its routes, never for a 404 or 405 of a URL under its prefix: hence the path.
"""

from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from vault.errors import StorageFull, VaultError
from vault.http import too_large_message

# status, code, message -> the answer
Renderer = Callable[[int, str, str], Response]
_KEY = "vault.front_ends"


class _Registry:
    def __init__(self, default: Renderer):
        self.default = default
        self.renderers: dict[str, Renderer] = {}  # blueprint name -> renderer
        self.paths: dict[str, str] = {}  # path -> blueprint name


def init_app(app: Flask, default: Renderer) -> None:
    """Render errors with `default` unless a front end registered its own."""
    app.extensions[_KEY] = _Registry(default)
    app.register_error_handler(VaultError, _vault_error)
    app.register_error_handler(HTTPException, _http_error)


def register(
    blueprint: Blueprint, renderer: Renderer | None = None, path: str | None = None
) -> None:
    """Show this blueprint's errors with `renderer`; claim the URLs below `path`.

    Without a renderer, the blueprint's errors are rendered as its parent's
    (for a nested blueprint) or the app's. A URL claimed by two front ends
    goes to the one with the longer path.
    """

    def record(state) -> None:
        name = f"{state.name_prefix}.{state.name}".lstrip(".")
        registry: _Registry = state.app.extensions[_KEY]
        if renderer is not None:
            registry.renderers[name] = renderer
        if path is not None:
            registry.paths[path.rstrip("/")] = name

    blueprint.record_once(record)


def current() -> str | None:
    """Return the blueprint that answers this request, None for the app itself.

    The blueprint of the route the URL matched or, for a URL that matched
    none, the front end that claimed the longest path above it.
    """
    if request.url_rule is not None:
        return request.blueprint
    claimed = [
        path
        for path in _registry().paths
        if request.path == path or request.path.startswith(path + "/")
    ]
    return _registry().paths[max(claimed, key=len)] if claimed else None


def renderer() -> Renderer:
    """Return the renderer of the front end answering this request."""
    registry, name = _registry(), current()
    while name:
        if name in registry.renderers:
            return registry.renderers[name]
        name = name.rpartition(".")[0]
    return registry.default


def _registry() -> _Registry:
    return current_app.extensions[_KEY]


def retry_after(error: VaultError) -> dict[str, str]:
    """The Retry-After header an error asks for, if any, to add to its answer."""
    if error.retry_after is None:
        return {}
    return {"Retry-After": str(error.retry_after)}


def _vault_error(error: VaultError):
    if isinstance(error, StorageFull):
        # The person sees 507; the operator must hear of it to add room.
        current_app.logger.error(
            "storage full: %s answered 507 (%s)", request.endpoint, error.message
        )
    response = renderer()(error.status, error.code, error.message)
    response.headers.update(retry_after(error))
    return response


_HTTP_MESSAGES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "Sign in or send a valid API token."),
    403: ("forbidden", "You are not allowed to do that."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "That method is not allowed here."),
    429: ("too_many_requests", "Too many requests. Slow down and try again."),
    # Flask logs the original exception; the session is rolled back at teardown.
    500: ("internal_error", "Something went wrong on our side."),
}


def _http_error(error: HTTPException):
    render = renderer()
    if isinstance(error, CSRFError):
        return render(
            400,
            "csrf_failed",
            "The form's security token is missing or expired. "
            "Reload the page and try again.",
        )
    if isinstance(error, RequestEntityTooLarge):
        return render(413, "too_large", too_large_message())
    code, message = _HTTP_MESSAGES.get(
        error.code, ("error", error.description or "Something went wrong.")
    )
    response = render(error.code or 500, code, message)
    if error.code == 405 and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response
