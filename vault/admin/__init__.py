from vault.admin.views import bp

__all__ = ["bp"]
