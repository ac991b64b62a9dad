"""Share links as visitors see them, under /s/<token>: shared wiring."""

import re
from datetime import datetime

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from vault import front_ends
from vault.errors import Gone, NotFound, VaultError
from vault.http import too_large_message
from vault.models import ShareLink, utcnow
from vault.public.forms import UnlockForm
from vault.redirects import local_path
from vault.services import share_access, share_downloads
from vault.services.share_access import PasswordRequired, Visitor

bp = Blueprint("public", __name__, url_prefix="/s")
# Errors on these pages have their own wording and the unlock page, so the
# handlers below render them; a URL under /s no route matched is still ours
# (`_share_headers`), and is shown the app's error page.
front_ends.register(bp, path=bp.url_prefix)

UNLOCKED = "unlocked_links"  # session key: [[link id, password stamp], ...]
MAX_UNLOCKED = 20  # the session is a cookie: keep the list short


def visitor() -> Visitor:
    return Visitor(request.remote_addr, request.user_agent.string)


def open_link(token: str, kind: str | None = "download", unlocked=True) -> ShareLink:
    """Return the link for this request, or raise what the visitor should see.

    NotFound for an unknown token or the wrong kind of link, Gone for one that
    stopped working, PasswordRequired (401) until this link is unlocked.
    """
    share = g.share = share_access.active_link(token, visitor())
    if kind is not None and share.kind != kind:
        raise NotFound("This link has no such page.")
    if unlocked and not is_unlocked(share):
        raise PasswordRequired()
    return share


def is_unlocked(share: ShareLink) -> bool:
    if not share.has_password:
        return True
    stamp = share_access.unlock_stamp(share)
    return [share.id, stamp] in session.get(UNLOCKED, [])


def remember_unlock(share: ShareLink, stamp: str) -> None:
    # Only this link's id: unlocking one link never opens another.
    kept = [entry for entry in session.get(UNLOCKED, []) if entry[0] != share.id]
    session[UNLOCKED] = [*kept, [share.id, stamp]][-MAX_UNLOCKED:]


def wants_json() -> bool:
    # The upload script asks for JSON; browsers and curl get pages.
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.after_app_request
def _share_headers(response):
    # Every answer under /s/, even an error for a path no view matched: the
    # token is in the URL, so it must not leak to other sites through the
    # Referer, land in search engines, or stay in a shared cache.
    if front_ends.current() == bp.name:
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.context_processor
def _helpers():
    return {
        "time_left": time_left,
        "downloads_left": share_downloads.downloads_left,
    }


def time_left(moment: datetime, now: datetime | None = None) -> str:
    """Say how far off a moment is: "in 3 days", "in 5 hours", "in 2 minutes"."""
    seconds = (moment - (now or utcnow())).total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        # Rounded, and only from two of a unit on: 47 hours, not "1 day".
        if seconds >= 2 * size:
            return f"in {round(seconds / size)} {unit}s"
    return "in a minute" if seconds >= 60 else "in less than a minute"


def unlock_page(share: ShareLink, form: UnlockForm | None = None, status=200):
    form = form or UnlockForm(next=_unlock_target())
    html = render_template("public/unlock.html", share=share, token=_token(), form=form)
    return html, status


def _token() -> str:
    return (request.view_args or {}).get("token", "")


_LINK_PATH = re.compile(r"/s/[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")


def _unlock_target() -> str:
    # After unlocking, back to the page that asked; the page itself for a POST.
    if request.method == "GET" and request.endpoint != "public.open":
        return request.path
    return ""


def safe_next(target: str, token: str) -> str:
    """Return `target` if it is a page of this link, else the link's own page."""
    home = url_for("public.open", token=token)
    target = local_path(target) or ""
    if _LINK_PATH.fullmatch(target) and target.startswith(home + "/"):
        return target
    return home


@bp.errorhandler(VaultError)
def _vault_error(error: VaultError):
    if isinstance(error, PasswordRequired) and not wants_json():
        return unlock_page(g.share, status=401)
    response = _error_response(error.status, error.code, error.message)
    response.headers.update(front_ends.retry_after(error))
    return response


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    status = error.code or 500
    if isinstance(error, CSRFError):
        message = "This page is out of date. Reload it and try again."
        return _error_response(400, "csrf_failed", message)
    if isinstance(error, RequestEntityTooLarge):
        return _error_response(413, "too_large", too_large_message())
    if status == 404:
        return _error_response(404, "not_found", "This link has no such page.")
    if status == 405:
        response = _error_response(405, "method_not_allowed", "Not allowed here.")
        response.headers["Allow"] = ", ".join(error.valid_methods or [])
        return response
    message = "Something went wrong." if status >= 500 else "That did not work."
    return _error_response(status, "error", message)


def _error_response(status: int, code: str, message: str):
    if wants_json():
        response = jsonify(error={"code": code, "message": message})
    else:
        template = "public/gone.html" if status == Gone.status else "public/error.html"
        response = current_app.make_response(
            render_template(template, status=status, message=message)
        )
    response.status_code = status
    return response
