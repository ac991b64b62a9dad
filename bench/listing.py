"""How fast a folder of many files is listed, sorted, paged and searched.

Seeds one folder with N files (rows only: listing never reads the bytes), then
times the browser's folder page (200 items a page) under each sort, its last
page, a search across all folders, and the API's full listing of the folder.

    .venv/bin/python bench/listing.py [--files 10000] [--database-url URL]
"""

import argparse
import os
import statistics
import tempfile
import time
from datetime import timedelta

from sqlalchemy import insert

from vault import create_app
from vault.extensions import db
from vault.models import Node, new_id, utcnow
from vault.services import accounts, names, tokens, tree

RUNS = 15


def seed(user, folder, count: int) -> None:
    now = utcnow()
    rows = []
    for number in range(count):
        name = f"document-{number:05d}.txt"
        rows.append(
            {
                "id": new_id(),
                "owner_id": user.id,
                "parent_id": folder.id,
                "parent_key": folder.id,
                "is_folder": False,
                "name": name,
                "name_key": names.name_key(name),
                "size": (number * 7919) % 1_000_000,
                "sha256": "0" * 64,
                "content_type": "text/plain",
                "storage_key": f"{user.id}/{new_id()}",
                "created_at": now - timedelta(seconds=number),
                "updated_at": now - timedelta(seconds=number),
            }
        )
    db.session.execute(insert(Node), rows)
    db.session.commit()


def timed(client, url: str, headers=None) -> tuple[float, int]:
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        body = response.get_data()
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code}")
    return statistics.median(timings), len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--database-url")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vault-bench-") as workdir:
        app = create_app(
            {
                "DATABASE_URL": options.database_url
                or f"sqlite:///{os.path.join(workdir, 'vault.db')}",
                "STORAGE_DIR": os.path.join(workdir, "storage"),
                "SECRET_KEY": "bench",
                "PASSWORD_HASH_PROFILE": "CHEAPEST",
                "WTF_CSRF_ENABLED": False,
            }
        )
        with app.app_context():
            db.drop_all()
            db.create_all()
            user = accounts.create_user("bench@example.com", "bench password")
            folder = tree.create_folder(user, "Big folder", None)
            _, secret = tokens.create_token(user, "bench")
            folder_id = folder.id
            started = time.perf_counter()
            seed(user, folder, options.files)
            seeded = time.perf_counter() - started
        client = app.test_client()
        client.post(
            "/login", data={"email": "bench@example.com", "password": "bench password"}
        )
        pages = -(-options.files // 200)
        engine = app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
        print(
            f"{options.files} files in one folder ({engine}), seeded in "
            f"{seeded:.1f} s; median of {RUNS} runs:"
        )
        for label, url in [
            ("folder page 1, by name", f"/folders/{folder_id}"),
            ("folder page 1, by size", f"/folders/{folder_id}?sort=size&order=desc"),
            ("folder page 1, by date", f"/folders/{folder_id}?sort=date"),
            (f"folder page {pages} (last)", f"/folders/{folder_id}?page={pages}"),
            ("search 'document-0999'", "/search?q=document-0999"),
        ]:
            ms, size = timed(client, url)
            print(f"  {label:<28} {ms:7.1f} ms  ({size / 1024:.0f} KiB of HTML)")
        ms, size = timed(
            client,
            f"/api/v1/folders/{folder_id}",
            {"Authorization": f"Bearer {secret}"},
        )
        label = "API: the whole folder"
        print(f"  {label:<28} {ms:7.1f} ms  ({size / 1024:.0f} KiB of JSON)")
        with app.app_context():
            db.drop_all()


if __name__ == "__main__":
    main()
