from flask import Blueprint

bp = Blueprint("files", __name__)

from vault.files import views  # noqa: E402, F401  (routes register on import)
