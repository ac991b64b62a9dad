from vault.shares.views import bp

__all__ = ["bp"]
