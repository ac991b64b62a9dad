from vault.files import browse, content, items  # noqa: F401 (add routes)
from vault.files.blueprint import bp

__all__ = ["bp"]
