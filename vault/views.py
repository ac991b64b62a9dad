"""App-wide web wiring: sign-in loading, first run, error pages, template helpers."""

import hashlib
import os
from functools import cache

from flask import current_app, redirect, render_template, request, url_for
from flask_login import current_user

from vault import front_ends
from vault.extensions import login_manager
from vault.services import accounts, filetypes, quotas, sessions, trash
from vault.units import format_size


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see this page."
    login_manager.user_loader(sessions.load_session)
    app.before_request(_require_first_admin)
    front_ends.init_app(app, default=render_page)
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


def render_page(status: int, code: str, message: str):
    """Render an error as an HTML page: the app's default (see front_ends)."""
    response = current_app.make_response(
        render_template("errors/error.html", status=status, message=message)
    )
    response.status_code = status
    return response


def _require_first_admin():
    # Until the first account exists, every page leads to the setup form.
    if current_app.extensions.get("vault.has_users"):
        return None
    if request.endpoint in ("auth.setup", "static"):
        return None
    # Only a client answered with pages is sent to a page; the API and tus
    # answer with their own errors.
    if front_ends.renderer() is not render_page:
        return None
    if accounts.has_users():
        current_app.extensions["vault.has_users"] = True
        return None
    return redirect(url_for("auth.setup"))
