"""App-wide web wiring: sign-in loading, first run, error pages, template helpers."""

import hashlib
import os
from functools import cache

from flask import (
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from vault.errors import VaultError
from vault.extensions import login_manager
from vault.http import too_large_message
from vault.services import accounts, filetypes, quotas, trash
from vault.units import format_size


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see this page."
    login_manager.user_loader(accounts.load_session)
    app.before_request(_require_first_admin)
    app.register_error_handler(VaultError, _vault_error)
    app.register_error_handler(HTTPException, _http_error)
    app.jinja_env.filters["size"] = format_size
    app.jinja_env.tests["previewable"] = lambda file: (
        filetypes.inline_type(file.name, file.content_type) is not None
    )
    app.context_processor(
        lambda: {
            "user": current_user,
            "usage": lambda: quotas.usage_of(current_user),
            "trash_size": lambda: trash.trash_bytes(current_user),
        }
    )
    app.url_defaults(_version_static_urls)


@cache
def _static_version(folder: str, filename: str) -> str:
    try:
        with open(os.path.join(folder, filename), "rb") as asset:
            return hashlib.sha256(asset.read()).hexdigest()[:12]
    except OSError:
        return "0"


def _version_static_urls(endpoint: str, values: dict) -> None:
    # A content hash in every static URL: browsers may cache assets for a year
    # and still get the new one after an update.
    if endpoint == "static" and "filename" in values:
        values["v"] = _static_version(current_app.static_folder, values["filename"])


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, code: str, message: str):
    if wants_json():
        response = jsonify(error={"code": code, "message": message})
    else:
        response = current_app.make_response(
            render_template("errors/error.html", status=status, message=message)
        )
    response.status_code = status
    return response


def _require_first_admin():
    # Until the first account exists, every page leads to the setup form.
    if current_app.extensions.get("vault.has_users"):
        return None
    if request.endpoint in ("auth.setup", "static") or wants_json():
        return None
    if accounts.has_users():
        current_app.extensions["vault.has_users"] = True
        return None
    return redirect(url_for("auth.setup"))


def retry_after(error: VaultError) -> dict[str, str]:
    """The Retry-After header an error asks for, if any, to add to its answer."""
    if error.retry_after is None:
        return {}
    return {"Retry-After": str(error.retry_after)}


def _vault_error(error: VaultError):
    response = error_response(error.status, error.code, error.message)
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
    if isinstance(error, CSRFError):
        return error_response(
            400,
            "csrf_failed",
            "The form's security token is missing or expired. "
            "Reload the page and try again.",
        )
    if isinstance(error, RequestEntityTooLarge):
        return error_response(413, "too_large", too_large_message())
    code, message = _HTTP_MESSAGES.get(
        error.code, ("error", error.description or "Something went wrong.")
    )
    response = error_response(error.code or 500, code, message)
    if error.code == 405 and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response
