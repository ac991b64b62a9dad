"""What the measurements need in place: a big random file, full folders, a tiny file."""

import hashlib
import os
from datetime import timedelta
from pathlib import Path

from bench.clients import BLOCK
from bench.servers import EMAIL, Server, Vault

FOLDER = "many"
TINY_SIZE = 256  # about the size of vault's answer to GET /api/v1/me


def source_file(path: Path, size: int) -> str:
    """Write size random bytes to path (incompressible); return their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as target:
        for written in range(0, size, BLOCK):
            block = os.urandom(min(BLOCK, size - written))
            digest.update(block)
            target.write(block)
    return digest.hexdigest()


def file_name(number: int) -> str:
    return f"document-{number:05d}.txt"


def seed_vault(server: Vault, count: int) -> None:
    """Insert count file rows into the bench user's root folder, in one statement.

    Listing reads rows only, never bytes, so the blobs are not written.
    """
    from sqlalchemy import insert, select

    from vault import create_app
    from vault.extensions import db
    from vault.models import Node, User, new_id, utcnow
    from vault.services import names

    app = create_app(
        {
            "DATABASE_URL": server.database_url,
            "STORAGE_DIR": str(server.data),
            "SECRET_KEY": "bench secret key",
        }
    )
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == EMAIL))
        now = utcnow()
        rows = [
            {
                "id": new_id(),
                "owner_id": user.id,
                "parent_id": None,
                "parent_key": user.id,  # the root folder's key is its owner's id
                "is_folder": False,
                "name": file_name(number),
                "name_key": names.name_key(file_name(number)),
                "size": (number * 7919) % 1_000_000,
                "sha256": "0" * 64,
                "content_type": "text/plain",
                "storage_key": f"{user.id}/{new_id()}",
                "created_at": now - timedelta(seconds=number),
                "updated_at": now - timedelta(seconds=number),
            }
            for number in range(count)
        ]
        db.session.execute(insert(Node), rows)
        db.session.commit()
        db.engine.dispose()


def seed_directory(data: Path, count: int) -> None:
    """Create a directory of count empty files for a plain file server to list."""
    folder = data / FOLDER
    folder.mkdir()
    for number in range(count):
        (folder / file_name(number)).touch()


def tiny_file(data: Path) -> None:
    (data / "tiny.txt").write_bytes(b"x" * TINY_SIZE)


def furnish(server: Server, count: int) -> None:
    """Give a started server its full folder (and the plain servers a tiny file)."""
    if isinstance(server, Vault):
        seed_vault(server, count)
    else:
        seed_directory(server.data, count)
        tiny_file(server.data)
