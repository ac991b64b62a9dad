from vault.trash.views import bp

__all__ = ["bp"]
