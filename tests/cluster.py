"""Two app servers behind one nginx, sharing only a database, a bucket and a key.

Each gunicorn has an instance folder of its own (VAULT_INSTANCE_DIR), so no
local disk is shared; both take the app's database, its S3 bucket and its
secret key. nginx serves the shipped server block (docs/deploy/nginx.conf)
with both servers in its upstream, and logs which one answered each request.
"""

import contextlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import wait_for
from tests.servers import (
    free_port,
    gunicorn_environment,
    start_gunicorn,
    stop,
    wait_until_answering,
)
from tests.test_nginx import (
    assert_nginx_accepts,
    nginx_command,
    server_block,
)
from tests.test_nginx import main_config as nginx_main_config

# How nginx picks a server for each request: in turn, or by URL (every request
# for one tus upload then goes to the same server).
BALANCING = {"round-robin": "", "uri-hash": "hash $request_uri consistent;"}
# In each instance's config.py: the sweeper's lines reach the server's log.
LOG_SWEEPS = 'import logging\nlogging.getLogger("vault").setLevel(logging.INFO)\n'


@dataclass
class Cluster:
    nginx_port: int
    ports: tuple[int, int]
    run_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def server_url(self, index: int) -> str:
        """The address of one app server, past nginx."""
        return f"http://127.0.0.1:{self.ports[index]}"

    def logged(self) -> list[str]:
        return (self.run_dir / "access.log").read_text().splitlines()

    def logged_since(self, seen: int, prefix: str, count: int) -> list[str]:
        """The `count` requests starting with `prefix` logged after line `seen`.

        nginx logs a request once its answer is sent: the client may have the
        answer a moment before the line is written.
        """

        def lines():
            return [line for line in self.logged()[seen:] if line.startswith(prefix)]

        wait_for(lambda: len(lines()) >= count, seconds=5)
        return lines()

    @staticmethod
    def answered_by(lines: list[str]) -> list[str]:
        """The ports of the servers that answered these logged requests."""
        return [line.rsplit(":", 1)[1] for line in lines]

    def server_log(self, index: int) -> str:
        return (self.run_dir / f"gunicorn-{index}.log").read_text()

    def sweeps(self, index: int) -> tuple[int, int]:
        """How many sweeps a server's log shows done, and skipped."""
        log = self.server_log(index)
        return log.count("cleanup: removed"), log.count("cleanup: skipped")

    def uploads_swept(self) -> int:
        """How many expired uploads the sweeps of both servers say they removed."""
        lines = (self.server_log(0) + self.server_log(1)).splitlines()
        return sum(
            int(line.split("cleanup: removed ")[1].split()[0])
            for line in lines
            if "cleanup: removed " in line
        )


def main_config(run_dir: Path, server: str) -> str:
    """Wrap a server block as Debian's nginx.conf does, logging the upstream."""
    return nginx_main_config(
        run_dir,
        server,
        log="'$request_method $request_uri $status $upstream_addr'",
        connections=256,
    )


def upstream_block(nginx_port: int, ports: tuple[int, int], balancing: str) -> str:
    """The shipped server block, its upstream listing both app servers."""
    text = server_block("/nonexistent", nginx_port, ports[0])
    shipped = f"    server 127.0.0.1:{ports[0]};\n"
    assert shipped in text
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in ports)
    return text.replace(shipped, f"    {BALANCING[balancing]}\n{servers}")


@contextlib.contextmanager
def cluster(app, run_dir: Path, balancing="round-robin", **settings):
    """Serve `app`'s database, bucket and key from two gunicorns behind nginx.

    `settings` go to both servers as VAULT_ variables (see gunicorn_environment).
    """
    ports = (free_port(), free_port())
    nginx_port = free_port()
    (run_dir / "nginx.conf").write_text(
        main_config(run_dir, upstream_block(nginx_port, ports, balancing))
    )
    assert_nginx_accepts(run_dir)
    processes = []
    try:
        for index, port in enumerate(ports):
            instance = run_dir / f"instance-{index}"
            instance.mkdir()
            (instance / "config.py").write_text(LOG_SWEEPS)
            environment = gunicorn_environment(
                app,
                port,
                instance_dir=instance,
                trusted_proxies=1,
                trusted_hosts="127.0.0.1",
                **settings,
            )
            # Two masters on one machine would share gunicorn's control socket.
            control = run_dir / f"gunicorn-{index}.ctl"
            environment["GUNICORN_CMD_ARGS"] = f"--control-socket {control}"
            log = run_dir / f"gunicorn-{index}.log"
            processes.append(start_gunicorn(environment, log))
            wait_until_answering(port, processes[-1], log)
        processes.append(
            subprocess.Popen(  # noqa: S603 (our own nginx, fixed arguments)
                nginx_command(run_dir),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_until_answering(nginx_port, processes[-1], run_dir / "error.log")
        yield Cluster(nginx_port, ports, run_dir)
    finally:
        for process in reversed(processes):
            stop(process)
