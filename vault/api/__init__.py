"""JSON API v1: the same services as the browser, behind token or session auth."""

from vault.api import (  # noqa: F401 (add routes)
    admin,
    auth,
    files,
    folders,
    shares,
    tokens,
    trash,
    uploads,
)
from vault.api.blueprint import bp

__all__ = ["bp"]
