from vault.public import content, pages, uploads  # noqa: F401 (add routes)
from vault.public.blueprint import bp

__all__ = ["bp"]
