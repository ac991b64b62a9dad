from vault.files.views import bp

__all__ = ["bp"]
