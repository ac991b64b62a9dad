"""The byte store. It knows keys and bytes, never users, names or folders.

The backend is chosen once, at start, from VAULT_STORAGE_URL: `file:///abs/path`
(the default, under the instance folder) or `s3://BUCKET/PREFIX`. Nothing
outside this package imports a backend module (tests/test_architecture.py).
"""

from urllib.parse import unquote, urlsplit

from flask import current_app

from vault.errors import StorageFull
from vault.storage.base import BlobStore, BlobWriter

__all__ = ["BlobStore", "BlobWriter", "StorageFull", "get_storage", "init_app"]


def storage_url(url: str | None, storage_dir: str) -> str:
    """Return the store's URL, checked: VAULT_STORAGE_URL, else the directory's."""
    if not url:
        return "file://" + storage_dir
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        if not parts.path.startswith("/"):
            raise ValueError("VAULT_STORAGE_URL: a file:// URL needs an absolute path")
        return url
    if parts.scheme == "s3" and parts.netloc:
        return url
    raise ValueError(
        "VAULT_STORAGE_URL must be file:///absolute/path or s3://bucket/prefix, "
        f"not {url!r}"
    )


def local_directory(url: str) -> str | None:
    """Return the directory of a file:// store URL, None for any other store."""
    parts = urlsplit(url)
    return unquote(parts.path) if parts.scheme == "file" else None


def open_store(url: str, config) -> BlobStore:
    """Return the store a checked URL names."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        from vault.storage.s3 import S3Storage

        return S3Storage.from_config(parts.netloc, parts.path.strip("/"), config)
    from vault.storage.local import LocalStorage

    return LocalStorage(unquote(parts.path))


def init_app(app) -> None:
    app.extensions["vault.storage"] = open_store(app.config["STORAGE_URL"], app.config)


def get_storage() -> BlobStore:
    return current_app.extensions["vault.storage"]
