"""Starting real servers for tests: free ports, and waiting until they answer."""

import http.client
import socket
import time
from pathlib import Path


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
