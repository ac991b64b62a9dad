from vault.auth.views import bp

__all__ = ["bp"]
