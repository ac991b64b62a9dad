"""The S3 section: vault keeping its bytes in a bucket, against boto3 alone.

One S3 API server (moto, as the tests run it) on 127.0.0.1 serves both: vault
under gunicorn.conf.py with VAULT_STORAGE_URL=s3://BUCKET/vault, and boto3 in
this process. In each repeat the same file goes up through vault's API (a
multipart POST, as in the main table) and through boto3's upload_fileobj, and
comes down through vault's download route and through boto3's get_object, so
the ratios say what vault costs on top of the store.
"""

import contextlib
import importlib.util
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.clients import BLOCK, BenchError, VaultClient
from bench.fixtures import source_file
from bench.measurements import (
    FAILURES,
    MiB,
    PeakMemory,
    Results,
    Settings,
    progress,
    rate,
)
from bench.servers import HOST, Server, Unavailable, Vault
from vault.storage.s3_writers import PART_BYTES

SECTION = "s3"
VAULT = "vault"  # the column names of the section's table
BOTO3 = "boto3"
PREFIX = "vault"
# moto takes any credentials; the region is the one its buckets default to.
AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_REGION": "us-east-1",
}
# Bigger than one part, so that warming up runs the multipart path too.
WARM_UP_BYTES = 2 * PART_BYTES + MiB


class Moto(Server):
    """moto's S3 API server (the tests' S3 server): objects in spooled temp files."""

    name = "moto"

    def missing(self) -> str | None:
        for module in ("moto", "boto3", "flask_cors"):
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed (pip install -e '.[dev]')"
        return None

    def prepare(self) -> None:
        self.home.mkdir(parents=True)

    def environment(self) -> dict[str, str]:
        # Its spooled objects go past memory into temp files here.
        return {**os.environ, "TMPDIR": str(self.home)}

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)]

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def serving_pids(self) -> list[int]:
        return [self.process.pid]


class VaultOnS3(Vault):
    """vault as deployed in the main table, its bytes in a bucket on `moto`."""

    name = "vault-s3"

    def __init__(self, workdir: Path, moto: Moto, bucket: str):
        super().__init__(workdir)
        self.moto, self.bucket = moto, bucket

    def environment(self) -> dict[str, str]:
        inherited = {k: v for k, v in super().environment().items() if k[:4] != "AWS_"}
        return {
            **inherited,
            **AWS,
            "AWS_ENDPOINT_URL_S3": self.moto.endpoint,
            "VAULT_STORAGE_URL": f"s3://{self.bucket}/{PREFIX}",
        }


class RawS3:
    """boto3 alone on the same server, with the client settings vault uses."""

    def __init__(self, endpoint: str, bucket: str):
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name=AWS["AWS_REGION"],
            aws_access_key_id=AWS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"mode": "standard"}, max_pool_connections=32),
        )
        # vault's part size, and boto3's default of 10 parts in flight.
        self.transfer = TransferConfig(
            multipart_threshold=PART_BYTES, multipart_chunksize=PART_BYTES
        )

    def create_bucket(self) -> None:
        self.client.create_bucket(Bucket=self.bucket)

    def upload(self, source: Path, key: str) -> None:
        with source.open("rb") as body:
            self.client.upload_fileobj(body, self.bucket, key, Config=self.transfer)

    def download(self, key: str) -> int:
        """Stream an object in 1 MiB pieces, as vault does; return its size."""
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        received = 0
        try:
            for chunk in body.iter_chunks(BLOCK):
                received += len(chunk)
        finally:
            body.close()
        return received

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


@dataclass
class S3Context:
    vault: VaultOnS3
    client: VaultClient
    raw: RawS3
    source: Path
    sha256: str
    size: int
    repeat: int = 0
    vault_download: str | None = None  # the first upload of each side is kept
    raw_download: str | None = None


def upload_vault(context: S3Context) -> dict[str, float]:
    """Upload through vault's API, sampling its workers' memory."""
    with PeakMemory(context.vault.serving_pids()) as memory:
        started = time.perf_counter()
        uploaded = context.client.upload_one_request(
            context.source, f"s3-{context.repeat}.zip"
        )
        seconds = time.perf_counter() - started
    if uploaded.sha256 != context.sha256:
        raise BenchError("vault's SHA-256 of the upload differs from the file's")
    if context.vault_download is None:
        context.vault_download = uploaded.path
    else:
        context.client.discard(uploaded.path)
    return {"upload": rate(context.size, seconds), "upload_rss": memory.growth_mib}


def upload_raw(context: S3Context) -> float:
    key = f"raw/{context.repeat}.bin"
    started = time.perf_counter()
    context.raw.upload(context.source, key)
    seconds = time.perf_counter() - started
    if context.raw_download is None:
        context.raw_download = key
    else:
        context.raw.delete(key)
    return rate(context.size, seconds)


def download_vault(context: S3Context) -> float:
    return _timed_download(context, context.client.download, context.vault_download)


def download_raw(context: S3Context) -> float:
    return _timed_download(context, context.raw.download, context.raw_download)


def _timed_download(context: S3Context, download, path: str | None) -> float:
    if path is None:
        raise Unavailable("nothing was uploaded to download")
    started = time.perf_counter()
    received = download(path)
    seconds = time.perf_counter() - started
    if received != context.size:
        raise BenchError(f"downloaded {received} bytes of {context.size}")
    return rate(received, seconds)


# In each repeat, in this order: each side's upload, then each side's download.
STEPS = (
    (VAULT, "upload", upload_vault),
    (BOTO3, "upload", upload_raw),
    (VAULT, "download", download_vault),
    (BOTO3, "download", download_raw),
)


def warm_up(context: S3Context, workdir: Path, rounds: int = 4) -> None:
    """Run each step untimed on a file of a few parts (see measurements.warm_up)."""
    warm = workdir / "s3-warm-up.bin"
    source_file(warm, WARM_UP_BYTES)
    client, raw = context.client, context.raw
    for number in range(rounds):
        with contextlib.suppress(*FAILURES):
            uploaded = client.upload_one_request(warm, f"s3-warm-up-{number}.zip")
            client.download(uploaded.path)
            client.discard(uploaded.path)
            raw.upload(warm, "raw/warm-up.bin")
            raw.download("raw/warm-up.bin")
            raw.delete("raw/warm-up.bin")


def start(workdir: Path, settings: Settings, sha256: str) -> S3Context:
    """Start moto and vault on a bucket of it; raise Unavailable if one fails."""
    moto = Moto(workdir)
    moto.start()
    bucket = "vault-bench-" + secrets.token_hex(4)
    raw = RawS3(moto.endpoint, bucket)
    raw.create_bucket()
    vault = VaultOnS3(workdir, moto, bucket)
    try:
        vault.start()
        client = VaultClient(vault)
        client.setup()
    except (BenchError, OSError) as error:
        raise Unavailable(f"vault on S3 did not start: {error}") from error
    source = workdir / "source.bin"
    return S3Context(vault, client, raw, source, sha256, settings.size)


def measure(workdir: Path, settings: Settings, sha256: str) -> Results:
    """Measure vault on S3 and boto3 alone, `settings.repeats` times, interleaved."""
    results = Results()
    progress("S3: starting moto and vault on it")
    try:
        context = start(workdir, settings, sha256)
    except (Unavailable, OSError) as error:
        for server in (VAULT, BOTO3):
            results.reasons[(server, "*")] = str(error)
        progress(f"S3: n/a: {error}")
        return results
    progress("S3: warming up")
    warm_up(context, workdir)
    for repeat in range(1, settings.repeats + 1):
        context.repeat = repeat
        for server, operation, step in STEPS:
            progress(f"S3 repeat {repeat}/{settings.repeats}: {operation}")
            results.record(server, operation, lambda step=step: step(context))
    return results
