"""A tus upload through two app servers: PATCHes in turn, or pinned to one.

.venv/bin/python -m bench.scale_out --database-url postgresql://USER@HOST/DB

Starts the two-server setup of tests/test_scale_out.py (two gunicorns, one
PostgreSQL database, one bucket of the test S3 server, nginx in front) once
with plain round-robin and once with `hash $request_uri consistent`, which
sends every request for one upload to one server. A server that took every
PATCH of an upload hashed the bytes as they came; when the PATCHes alternate,
the server finishing the upload reads it back once to hash it. Prints the
time of the whole upload and of its last PATCH. The database's tables are
dropped and created again: give it a database of its own.
"""

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import boto3
import requests
from sqlalchemy import select

from tests import factories
from tests.cluster import cluster
from tests.conftest import PASSWORD, base_config, fresh_app
from tests.s3server import new_bucket
from vault.extensions import db
from vault.models import Node

MiB = 1024 * 1024


def upload(url: str, headers: dict, content: bytes, chunk: int) -> tuple[float, float]:
    """Send `content` with tus in `chunk`-sized PATCHes; return the seconds the
    whole upload and its last PATCH took."""
    headers = {**headers, "Tus-Resumable": "1.0.0"}
    started = time.perf_counter()
    created = requests.post(
        f"{url}/api/v1/uploads",
        headers={
            **headers,
            "Upload-Length": str(len(content)),
            "Upload-Metadata": "filename YmVuY2guYmlu",  # bench.bin
        },
        timeout=60,
    )
    created.raise_for_status()
    location = created.headers["Location"]
    for offset in range(0, len(content), chunk):
        last_started = time.perf_counter()
        answer = requests.patch(
            location,
            headers={
                **headers,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
            data=content[offset : offset + chunk],
            timeout=600,
        )
        answer.raise_for_status()
    finished = time.perf_counter()
    return finished - started, finished - last_started


def empty(bucket: str) -> None:
    """Delete what the runs stored: the test S3 server keeps it in memory."""
    objects = boto3.resource("s3").Bucket(bucket).objects
    objects.all().delete()


def measure(options, balancing: str, content: bytes, digest: str) -> list[tuple]:
    run_dir = Path(tempfile.mkdtemp(prefix=f"vault-scale-out-{balancing}-"))
    bucket = new_bucket()
    config = {
        **base_config(run_dir),
        "DATABASE_URL": options.database_url,
        "STORAGE_URL": f"s3://{bucket}/vault",
    }
    config.pop("STORAGE_DIR", None)
    times = []
    with fresh_app(config) as app:
        with app.app_context():
            user = factories.create_user("bench@example.com", PASSWORD)
            headers = {"Authorization": f"Bearer {factories.create_token(user)}"}
        with cluster(app, run_dir, balancing, workers=2, threads=8) as servers:
            # Warm up: the first request of each worker loads what it needs.
            upload(servers.url, headers, content[: 2 * options.chunk], options.chunk)
            for _ in range(options.repeats):
                times.append(upload(servers.url, headers, content, options.chunk))
                empty(bucket)
            assert_hash(app, content, digest)
            patches = Counter(
                line.rsplit(":", 1)[1]
                for line in servers.logged()
                if line.startswith("PATCH ")
            )
    print(f"  PATCHes answered by each server (port): {dict(patches)}")
    return times


def assert_hash(app, content: bytes, digest: str) -> None:
    with app.app_context():
        hashes = set(
            db.session.scalars(select(Node.sha256).where(Node.size == len(content)))
        )
    if hashes != {digest}:
        raise SystemExit(f"wrong SHA-256 recorded: {hashes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("VAULT_TEST_DATABASE_URL")
    )
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--chunk-mib", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    if not options.database_url:
        parser.error("give --database-url (PostgreSQL) or VAULT_TEST_DATABASE_URL")
    options.chunk = options.chunk_mib * MiB
    content = os.urandom(options.size_mib * MiB)
    digest = hashlib.sha256(content).hexdigest()
    print(f"{options.size_mib} MiB in {options.chunk_mib} MiB PATCHes through nginx")
    for balancing in ("uri-hash", "round-robin"):
        times = measure(options, balancing, content, digest)
        whole = statistics.median(total for total, _ in times)
        last = statistics.median(final for _, final in times)
        print(
            f"{balancing:12} whole upload {whole:6.2f} s "
            f"({options.size_mib / whole:5.1f} MiB/s), last PATCH {last:5.2f} s "
            f"(median of {len(times)})"
        )


if __name__ == "__main__":
    main()
