"""The byte store. It knows keys and bytes, never users, names or folders."""

from flask import current_app

from vault.storage.local import BlobWriter, LocalStorage, StorageFull

__all__ = ["BlobWriter", "LocalStorage", "StorageFull", "get_storage", "init_app"]


def init_app(app) -> None:
    app.extensions["vault.storage"] = LocalStorage(app.config["STORAGE_DIR"])


def get_storage() -> LocalStorage:
    return current_app.extensions["vault.storage"]
