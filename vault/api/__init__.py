"""JSON API v1: the same services as the browser, behind token or session auth."""

from flask import Blueprint

from vault.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Bearer requests carry no ambient credentials; session requests are checked
# against the X-CSRFToken header in auth.py.
csrf.exempt(bp)

from vault.api import auth, files, tokens  # noqa: E402, F401  (routes register on import)
