"""Upload and download figures for vault under gunicorn, on this machine.

Starts gunicorn with the shipped gunicorn.conf.py against a throw-away instance,
uploads a large file through the API (multipart, streamed from a generator),
downloads it whole, then times Range requests for its last MiB. Prints
throughput, the workers' peak memory, and Range latency.

    .venv/bin/python bench/transfer.py [--size-mib 1024]
"""

import argparse
import hashlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHUNK = 1024 * 1024
BOUNDARY = "benchboundary"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def start_server(workdir: Path, port: int) -> tuple[subprocess.Popen, dict]:
    env = dict(
        os.environ,
        VAULT_DATABASE_URL=f"sqlite:///{workdir / 'vault.db'}",
        VAULT_STORAGE_DIR=str(workdir / "storage"),
        VAULT_SECRET_KEY="bench",
        VAULT_BIND=f"127.0.0.1:{port}",
        VAULT_MAX_UPLOAD_BYTES="100 GB",
    )
    flask = [str(BIN / "flask"), "--app", "vault"]
    subprocess.run([*flask, "db", "upgrade"], env=env, check=True, cwd=ROOT)
    subprocess.run(
        [*flask, "users", "create", "bench@example.com", "--password-stdin"],
        input="bench password\n",
        text=True,
        env=env,
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, env
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def request(port, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return connection, response


def token(port: int) -> str:
    body = json.dumps(
        {"email": "bench@example.com", "password": "bench password", "name": "bench"}
    )
    _, response = request(
        port, "POST", "/api/v1/tokens", body, {"Content-Type": "application/json"}
    )
    return json.loads(response.read())["token"]


def upload(port: int, auth: dict, size: int) -> tuple[float, str, dict]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.zip"\r\nContent-Type: application/zip\r\n\r\n'
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    block = os.urandom(CHUNK)
    digest = hashlib.sha256()

    def body():
        yield head
        for sent in range(0, size, CHUNK):
            piece = block[: min(CHUNK, size - sent)]
            digest.update(piece)
            yield piece
        yield tail

    headers = {
        **auth,
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(len(head) + size + len(tail)),
    }
    started = time.perf_counter()
    _, response = request(port, "POST", "/api/v1/files", body(), headers)
    answer = json.loads(response.read())
    elapsed = time.perf_counter() - started
    if response.status != 201:
        raise RuntimeError(answer)
    [stored] = answer["files"]
    return elapsed, digest.hexdigest(), stored


def download(port: int, auth: dict, file_id: str) -> tuple[float, int]:
    started = time.perf_counter()
    _, response = request(port, "GET", f"/api/v1/files/{file_id}/content", None, auth)
    received = 0
    while chunk := response.read(CHUNK):
        received += len(chunk)
    return time.perf_counter() - started, received


def range_latency_ms(port: int, auth: dict, file_id: str, size: int) -> list[float]:
    headers = {**auth, "Range": f"bytes={size - CHUNK}-{size - 1}"}
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        _, response = request(
            port, "GET", f"/api/v1/files/{file_id}/content", None, headers
        )
        assert response.status == 206 and len(response.read()) == CHUNK
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    size = parser.parse_args().size_mib * CHUNK
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="vault-bench-") as workdir:
        server, _ = start_server(Path(workdir), port)
        try:
            auth = {"Authorization": f"Bearer {token(port)}"}
            workers = worker_pids(server.pid)
            before = max(peak_rss_kib(pid) for pid in workers)
            seconds, sent_sha, stored = upload(port, auth, size)
            after_upload = max(peak_rss_kib(pid) for pid in workers)
            down_seconds, received = download(port, auth, stored["id"])
            ranges = range_latency_ms(port, auth, stored["id"], size)
        finally:
            server.terminate()
            server.wait()
    mib = size / CHUNK
    print(f"file size:              {mib:.0f} MiB")
    print(f"upload:                 {seconds:.2f} s, {mib / seconds:.0f} MiB/s")
    print(f"sha256 matches:         {sent_sha == stored['sha256']}")
    print(
        f"worker peak RSS:        {before / 1024:.0f} MiB before upload, "
        f"{after_upload / 1024:.0f} MiB after"
    )
    print(
        f"download:               {down_seconds:.2f} s, "
        f"{received / CHUNK / down_seconds:.0f} MiB/s"
    )
    print(
        f"Range, last 1 MiB:      median {statistics.median(ranges):.1f} ms, "
        f"max {max(ranges):.1f} ms over {len(ranges)} requests"
    )


if __name__ == "__main__":
    main()
