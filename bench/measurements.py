"""The measurements: each does one operation against one server and returns figures.

`run` repeats every operation, interleaving the servers so that a slow moment of
the machine does not fall on one server only, and keeps every figure; the report
takes the medians. A server that cannot do an operation gets the reason instead.
"""

import contextlib
import functools
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench import fixtures, slow_clients
from bench.clients import BLOCK, BenchError, Client, wrk
from bench.servers import Unavailable

# What a server (or a tool) can do to a measurement; anything else is a bug here.
FAILURES = (
    Unavailable,
    BenchError,
    OSError,
    http.client.HTTPException,
    subprocess.CalledProcessError,
    ValueError,  # an answer that is not the JSON expected
)
MiB = 1024 * 1024
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SMALL_SIZE = 4096


@dataclass
class Settings:
    size: int  # bytes of the big file
    small_uploads: int
    repeats: int
    wrk_seconds: int
    folder_files: int
    concurrency: int = 8
    wrk_connections: int = 16
    range_requests: int = 20
    page_requests: int = 20
    slow_count: int = 200
    slow_seconds: float = 20


@dataclass
class Context:
    """What one server's measurements share across operations and repeats."""

    client: Client
    source: Path
    source_sha256: str
    settings: Settings
    warm_up_file: Path | None = None  # a small file for warming up
    repeat: int = 0
    download_path: str | None = None


@dataclass
class Results:
    values: dict[tuple[str, str], list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )
    reasons: dict[tuple[str, str], str] = field(default_factory=dict)

    def median(self, server: str, operation: str) -> float | None:
        figures = self.values.get((server, operation))
        return statistics.median(figures) if figures else None

    def record(self, server: str, operation: str, measure: Callable) -> None:
        if (server, operation) in self.reasons:
            return  # it failed in an earlier repeat: do not spend time again
        try:
            figures = measure()
        except FAILURES as error:
            reason = f"{type(error).__name__}: {error}"
            if isinstance(error, Unavailable):
                reason = str(error)
            self.reasons[(server, operation)] = reason
            progress(f"  {server:<10} n/a: {reason}")
            return
        if not isinstance(figures, dict):
            figures = {operation: figures}
        for name, figure in figures.items():
            self.values[(server, name)].append(figure)
        shown = ", ".join(f"{name} {figure:,.1f}" for name, figure in figures.items())
        progress(f"  {server:<10} {shown}")


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def resident_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except (FileNotFoundError, ProcessLookupError):
        return 0


class PeakMemory:
    """Sample the resident memory of some processes while a block runs."""

    def __init__(self, pids: list[int], interval: float = 0.005):
        self.pids = pids
        self.interval = interval
        self.stopping = threading.Event()

    def __enter__(self):
        self.idle = {pid: resident_bytes(pid) for pid in self.pids}
        self.peak = dict(self.idle)
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _watch(self) -> None:
        while not self.stopping.wait(self.interval):
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], resident_bytes(pid))

    def __exit__(self, *exc_info):
        self.stopping.set()
        self.thread.join()

    @property
    def growth_mib(self) -> float:
        """The most any one process grew above its idle size, in MiB."""
        return max(self.peak[pid] - self.idle[pid] for pid in self.pids) / MiB


def rate(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def upload_one_request(context: Context) -> dict[str, float]:
    """Upload the big file in one request, sampling the servers' memory."""
    client, size = context.client, context.settings.size
    os.sync()  # write back earlier uploads now, not during this one
    with PeakMemory(client.server.serving_pids()) as memory:
        started = time.perf_counter()
        uploaded = client.upload_one_request(
            context.source, f"one-{context.repeat}.zip"
        )
        seconds = time.perf_counter() - started
    if uploaded.sha256 not in (None, context.source_sha256):
        raise BenchError("the server's SHA-256 of the upload differs from the file's")
    keep_for_download(context, uploaded.path)
    return {"upload": rate(size, seconds), "upload_rss": memory.growth_mib}


def keep_for_download(context: Context, path: str) -> None:
    if context.download_path is None:
        context.download_path = path
    else:
        context.client.discard(path)


def upload_put(context: Context) -> float:
    os.sync()
    started = time.perf_counter()
    path = context.client.upload_put(context.source, f"put-{context.repeat}.zip")
    seconds = time.perf_counter() - started
    context.client.discard(path)
    return rate(context.settings.size, seconds)


def upload_tus(context: Context) -> float:
    os.sync()
    started = time.perf_counter()
    path = context.client.upload_tus(context.source, f"tus-{context.repeat}.zip")
    seconds = time.perf_counter() - started
    context.client.discard(path)
    return rate(context.settings.size, seconds)


def download(context: Context) -> float:
    if context.download_path is None:
        raise Unavailable("nothing was uploaded to download")
    started = time.perf_counter()
    received = context.client.download(context.download_path)
    seconds = time.perf_counter() - started
    if received != context.settings.size:
        raise BenchError(f"downloaded {received} bytes of {context.settings.size}")
    return rate(received, seconds)


def range_last_mib(context: Context) -> float:
    """Return the median ms for the last MiB of the big file, one request at a time."""
    if context.download_path is None:
        raise Unavailable("nothing was uploaded to download")
    size = context.settings.size
    first = max(0, size - BLOCK)
    headers = {"Range": f"bytes={first}-{size - 1}"}
    connection = context.client.connect()
    timings = []
    try:
        for _ in range(context.settings.range_requests):
            started = time.perf_counter()
            answer = context.client.fetch(
                connection, context.download_path, headers, (206,)
            )
            timings.append((time.perf_counter() - started) * 1000)
            if len(answer.body) != size - first:
                raise BenchError(f"the range brought {len(answer.body)} bytes")
    finally:
        connection.close()
    return statistics.median(timings)


def small_uploads(context: Context, clients: int, batch: str) -> float:
    """Upload many 4 KiB files from `clients` connections; return requests/s."""
    client, count = context.client, context.settings.small_uploads
    target = client.small_batch(f"{batch}-{context.repeat}")
    data = os.urandom(SMALL_SIZE)
    numbers = iter(range(count))
    lock = threading.Lock()

    def upload_until_done() -> None:
        connection = client.connect()
        try:
            while True:
                with lock:
                    number = next(numbers, None)
                if number is None:
                    return
                client.upload_small(connection, target, f"small-{number}.zip", data)
        finally:
            connection.close()

    os.sync()
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for running in [pool.submit(upload_until_done) for _ in range(clients)]:
            running.result()
    return count / (time.perf_counter() - started)


def small_sequential(context: Context) -> float:
    return small_uploads(context, 1, "sequential")


def small_concurrent(context: Context) -> float:
    return small_uploads(context, context.settings.concurrency, "concurrent")


def tiny_get(context: Context) -> float:
    path, headers = context.client.tiny_get()
    settings = context.settings
    return wrk(
        context.client.server.port,
        path,
        headers,
        settings.wrk_seconds,
        settings.wrk_connections,
    )


def page_ms(
    context: Context, path: str, fetch: Callable | None = None, listing: bool = True
) -> float:
    """Return the median ms to fetch a page, over one kept-alive connection.

    With `listing`, the page must show the first seeded file.
    """
    fetch = fetch or context.client.page
    expected = fixtures.file_name(0).encode()
    connection = context.client.connect()
    timings = []
    try:
        for _ in range(context.settings.page_requests):
            started = time.perf_counter()
            answer = fetch(connection, path)
            timings.append((time.perf_counter() - started) * 1000)
            if listing and expected not in answer.body:
                raise BenchError(f"{path} does not list {expected.decode()}")
    finally:
        connection.close()
    return statistics.median(timings)


def folder_page(context: Context) -> float:
    return page_ms(context, context.client.folder_page(fixtures.FOLDER))


# vault's other listing figures (what bench/listing.py used to print).
VAULT_PAGES = {
    "page_by_size": "/?sort=size&order=desc",
    "page_by_date": "/?sort=date",
    "search": "/search?q=document-0999",
}


def vault_pages(context: Context) -> dict[str, float]:
    client = context.client
    last = -(-context.settings.folder_files // 200)
    pages = {**VAULT_PAGES, "page_last": f"/?page={last}"}
    figures = {
        name: page_ms(context, path, listing=False) for name, path in pages.items()
    }
    figures["api_folder"] = page_ms(context, "/api/v1/folders/root", client.fetch)
    return figures


def slow_clients_latency(context: Context) -> dict[str, float]:
    settings = context.settings
    return slow_clients.measure(
        context.client, settings.slow_count, settings.slow_seconds
    )


@dataclass
class Operation:
    measure: Callable
    servers: tuple[str, ...] = ("vault", "copyparty", "nginx")


OPERATIONS = {
    "upload": Operation(upload_one_request),
    "put": Operation(upload_put, ("copyparty", "nginx")),
    "tus": Operation(upload_tus, ("vault",)),
    "download": Operation(download),
    "range": Operation(range_last_mib),
    "small_sequential": Operation(small_sequential),
    "small_concurrent": Operation(small_concurrent),
    "tiny_get": Operation(tiny_get),
    "folder_page": Operation(folder_page),
    "vault_pages": Operation(vault_pages, ("vault",)),
    "slow_clients": Operation(slow_clients_latency, ("vault",)),
}


def warm_up(context: Context, rounds: int = 4) -> None:
    """Send each kind of request a few times, untimed, on fresh connections.

    gunicorn's workers load some things on their first request of a kind (one
    cold download took 160 ms against 9 ms after), and a connection lands on
    either worker: without this, the first repeat would time the loading.
    """
    client, folder = context.client, fixtures.FOLDER
    for number in range(rounds):
        with contextlib.suppress(*FAILURES):
            name = f"warm-up-{number}.zip"
            uploaded = client.upload_one_request(context.warm_up_file, name)
            client.download(uploaded.path)
            client.discard(uploaded.path)
            name = f"warm-up-tus-{number}.zip"
            client.discard(client.upload_tus(context.warm_up_file, name))
        connection = client.connect()
        with contextlib.suppress(*FAILURES):
            client.page(connection, client.folder_page(folder))
            path, headers = client.tiny_get()
            client.fetch(connection, path, headers)
        connection.close()


def run(
    contexts: dict[str, Context], repeats: int, only: list[str] | None = None
) -> Results:
    results = Results()
    progress("warming up")
    for context in contexts.values():
        warm_up(context)
    for repeat in range(1, repeats + 1):
        for name, operation in OPERATIONS.items():
            if only and name not in only:
                continue
            progress(f"repeat {repeat}/{repeats}: {name}")
            for server, context in contexts.items():
                if server in operation.servers:
                    context.repeat = repeat
                    measure = functools.partial(operation.measure, context)
                    results.record(server, name, measure)
    return results
