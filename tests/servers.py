"""Starting real servers for tests: free ports, gunicorn, waiting until they answer."""

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# gunicorn as the README deploys it, run from the project root.
GUNICORN_COMMAND = [
    sys.executable,
    "-m",
    "gunicorn",
    "-c",
    "gunicorn.conf.py",
    "wsgi:app",
]


def gunicorn_environment(app, port: int, **extra) -> dict[str, str]:
    """The environment for a gunicorn serving `app`'s database and storage on `port`.

    Each extra setting becomes a VAULT_ variable: workers=3 is VAULT_WORKERS=3.
    """
    return {
        **os.environ,
        "VAULT_BIND": f"127.0.0.1:{port}",
        "VAULT_DATABASE_URL": app.config["DATABASE_URL"],
        "VAULT_STORAGE_URL": app.config["STORAGE_URL"],
        "VAULT_SECRET_KEY": app.config["SECRET_KEY"],
        **{f"VAULT_{name.upper()}": str(value) for name, value in extra.items()},
    }


def start_gunicorn(environment: dict[str, str], log: Path) -> subprocess.Popen:
    """Start gunicorn with `environment`, writing its output to `log`."""
    with log.open("w") as output:
        return subprocess.Popen(  # noqa: S603 (our own server, fixed arguments)
            GUNICORN_COMMAND,
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@contextlib.contextmanager
def served(app, log: Path, **settings):
    """Serve `app`'s database and storage from gunicorn while the block runs.

    Yield (port, process); `settings` are gunicorn_environment's.
    """
    port = free_port()
    process = start_gunicorn(gunicorn_environment(app, port, **settings), log)
    try:
        wait_until_answering(port, process, log)
        yield port, process
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a process we started: terminate it, and kill it if it will not end."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_answering(port: int, process=None, log: Path | None = None) -> None:
    """Wait until a server we started answers on `port` (30 s at most)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text() if log else ''}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/login")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.05)
        finally:
            connection.close()
    raise RuntimeError(f"server did not start:\n{log.read_text() if log else ''}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
