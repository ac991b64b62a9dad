"""The API blueprint, shared by the modules that add its routes."""

from flask import Blueprint, request

from vault.errors import BadRequest
from vault.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Bearer requests carry no ambient credentials; session requests are checked
# against the X-CSRFToken header in auth.py.
csrf.exempt(bp)


def json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("Send a JSON object with Content-Type: application/json.")
    return body


def timestamp(value):
    return value.isoformat(timespec="seconds") + "Z" if value else None
