"""The servers under test, each started on a free port over a throw-away directory.

Each runs in its own process group, is told by the kernel to stop if this process
dies (PR_SET_PDEATHSIG), and is stopped by `stop_all`, which also runs at exit:
a benchmark interrupted with Ctrl-C leaves nothing behind.
"""

import abc
import atexit
import contextlib
import ctypes
import http.client
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
EMAIL = "bench@example.com"
# The 4 KiB uploads go to a second account, so that the first one holds the
# same files in every repeat (its folder page and GET /api/v1/me are timed).
UPLOADER_EMAIL = "uploader@example.com"
PASSWORD = "bench password"  # noqa: S105 (a throw-away instance)
STARTUP_SECONDS = 60
PR_SET_PDEATHSIG = 1

_running: list["Server"] = []


class Unavailable(Exception):
    """A server or tool cannot take part in this run; the message says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: if the benchmark is killed
    # outright (no finally, no atexit), the server still goes.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Server(abc.ABC):
    """One server process: start it, find its workers, stop it."""

    name = ""

    def __init__(self, workdir: Path):
        self.home = workdir / self.name
        self.data = self.home / "data"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = self.home / "server.log"

    def missing(self) -> str | None:
        """Return why this machine cannot run the server, or None if it can."""
        return None

    def prepare(self) -> None:
        """Create what the server needs on disk before it starts."""
        self.data.mkdir(parents=True)

    @abc.abstractmethod
    def command(self) -> list[str]:
        """Return the command line that runs the server in the foreground."""

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def serving_pids(self) -> list[int]:
        """Return the processes that answer requests (for memory sampling)."""
        return children(self.process.pid) or [self.process.pid]

    def start(self) -> None:
        if reason := self.missing():
            raise Unavailable(reason)
        self.prepare()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # Safe here: servers start before the bench starts any thread.
                preexec_fn=_die_with_parent,
            )
        _running.append(self)
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Unavailable(f"{self.name} exited at start: {self.log_tail()}")
            if self._answers():
                return
            time.sleep(0.1)
        raise Unavailable(f"{self.name} did not answer within {STARTUP_SECONDS} s")

    def _answers(self) -> bool:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            connection.request("HEAD", "/")
            connection.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            connection.close()

    def log_tail(self, lines: int = 5) -> str:
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " / ".join(text[-lines:]) or "(no output)"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class Vault(Server):
    """vault as the README deploys it: migrations, a user, gunicorn.conf.py."""

    name = "vault"

    def environment(self) -> dict[str, str]:
        # Settings from the caller's shell would make this a different deployment.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
        return {
            **inherited,
            "VAULT_DATABASE_URL": self.database_url,
            "VAULT_STORAGE_DIR": str(self.data),
            "VAULT_SECRET_KEY": "bench secret key",
            "VAULT_BIND": f"{HOST}:{self.port}",
        }

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.home / 'vault.db'}"

    def prepare(self) -> None:
        super().prepare()
        flask = [str(BIN / "flask"), "--app", "vault"]
        self._run([*flask, "db", "upgrade"])
        for email in (EMAIL, UPLOADER_EMAIL):
            self._run([*flask, "users", "create", email, "--password-stdin"], PASSWORD)

    def _run(self, command: list[str], stdin: str = "") -> None:
        with self.log_path.open("ab") as log:
            subprocess.run(
                command,
                input=f"{stdin}\n".encode(),
                cwd=ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
            )

    def command(self) -> list[str]:
        return [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"]

    def start(self) -> None:
        super().start()
        # The master listens before its workers have booted.
        deadline = time.monotonic() + STARTUP_SECONDS
        while len(children(self.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)

    def serving_pids(self) -> list[int]:
        return children(self.process.pid)


class Copyparty(Server):
    """copyparty from the bench extra: one read-write volume, no extras."""

    name = "copyparty"
    user = "bench"

    def missing(self) -> str | None:
        if importlib.util.find_spec("copyparty") is None:
            return "copyparty is not installed (pip install -e '.[bench]')"
        return None

    def environment(self) -> dict[str, str]:
        # Its salts and share database go here rather than into ~/.config.
        return {**os.environ, "XDG_CONFIG_HOME": str(self.home / "config")}

    def command(self) -> list[str]:
        # Defaults otherwise: no -e2d (no index database, so no hashing into a
        # database), one process (-j 1, which its help calls almost always best).
        return [
            sys.executable,
            "-m",
            "copyparty",
            "-i",
            HOST,
            "-p",
            str(self.port),
            "--http-only",
            "--no-crt",
            "--no-thumb",
            "-q",
            "-a",
            f"{self.user}:{PASSWORD}",
            "-v",
            f"{self.data}:/:rw,{self.user}",
        ]

    def serving_pids(self) -> list[int]:
        return [self.process.pid]


NGINX_CONF = """\
{user}worker_processes 2;
daemon off;
pid {home}/nginx.pid;
error_log {home}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_max_body_size 0;
    client_body_temp_path {home}/body;
    proxy_temp_path {home}/proxy;
    fastcgi_temp_path {home}/fastcgi;
    uwsgi_temp_path {home}/uwsgi;
    scgi_temp_path {home}/scgi;
    server {{
        listen {host}:{port};
        location /dav/ {{
            alias {data}/;
            dav_methods PUT;
            create_full_put_path on;
        }}
        location /files/ {{
            alias {data}/;
            autoindex on;
        }}
    }}
}}
"""


class Nginx(Server):
    """Debian's nginx: a WebDAV PUT location and a static one over the same dir."""

    name = "nginx"

    @property
    def executable(self) -> str | None:
        found = shutil.which("nginx") or "/usr/sbin/nginx"
        return found if os.access(found, os.X_OK) else None

    def missing(self) -> str | None:
        if self.executable is None:
            return "nginx is not installed (apt-get install nginx)"
        return None

    def prepare(self) -> None:
        super().prepare()
        # As root, nginx would hand its workers to "nobody", who cannot write
        # into our private temp dir; the benchmark only listens on loopback.
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = NGINX_CONF.format(
            user=user, home=self.home, data=self.data, host=HOST, port=self.port
        )
        (self.home / "nginx.conf").write_text(conf)

    def command(self) -> list[str]:
        return [
            self.executable,
            "-p",
            str(self.home),
            "-c",
            str(self.home / "nginx.conf"),
            "-e",
            str(self.home / "error.log"),
        ]

    def log_tail(self, lines: int = 5) -> str:
        errors = self.home / "error.log"
        if errors.exists():
            return " / ".join(errors.read_text().strip().splitlines()[-lines:])
        return super().log_tail(lines)


SERVERS = (Vault, Copyparty, Nginx)


def stop_all() -> None:
    while _running:
        _running.pop().stop()


atexit.register(stop_all)
