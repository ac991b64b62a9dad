"""Who is calling: a bearer token, or the browser session plus its CSRF header."""

from flask import g, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from vault.api.blueprint import bp
from vault.errors import BadRequest, Unauthorized
from vault.services import tokens

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Routes that authenticate with the request body instead.
PUBLIC_ENDPOINTS = {"api.create_token"}


class CsrfFailed(BadRequest):
    code = "csrf_failed"
    message = "Send the X-CSRFToken header with requests made from the browser."


@bp.before_request
def authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS and request.method == "POST":
        return
    g.api_user = _caller()


def _caller():
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        user = (
            tokens.user_for_token(secret.strip())
            if scheme.lower() == "bearer"
            else None
        )
        if user is None:
            raise Unauthorized("The API token is missing, malformed or revoked.")
        return user
    if not current_user.is_authenticated:
        raise Unauthorized()
    if request.method not in SAFE_METHODS:
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except ValidationError as error:
            raise CsrfFailed() from error
    return current_user._get_current_object()


@bp.after_request
def challenge(response):
    if response.status_code == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="vault"')
    return response
