"""JSON API v1: the same services as the browser, behind token or session auth."""

from vault.api import auth, files, tokens  # noqa: F401  (each adds its routes to bp)
from vault.api.blueprint import bp

__all__ = ["bp"]
