"""JSON API v1: the same services as the browser, behind token or session auth."""

from vault.api import auth, files, folders, shares, tokens, trash  # noqa: F401 (add routes)
from vault.api.blueprint import bp

__all__ = ["bp"]
