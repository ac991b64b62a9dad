"""The API blueprint, shared by the modules that add its routes."""

from flask import Blueprint, jsonify, request

from vault import front_ends
from vault.errors import BadRequest
from vault.extensions import csrf


def json_error(status: int, code: str, message: str):
    """Render an error as the API's `{"error": {"code", "message"}}`."""
    response = jsonify(error={"code": code, "message": message})
    response.status_code = status
    return response


bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Bearer requests carry no ambient credentials; session requests are checked
# against the X-CSRFToken header in auth.py.
csrf.exempt(bp)
# Every URL under /api is the API's, whichever version it names.
front_ends.register(bp, json_error, path="/api")


def json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("Send a JSON object with Content-Type: application/json.")
    return body


def timestamp(value):
    return value.isoformat(timespec="seconds") + "Z" if value else None
