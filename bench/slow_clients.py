"""Slow clients: another user's small requests while 200 connections trickle.

The attackers are anonymous, as on the open internet. Most send a request's
headers one byte a second and never finish them (slowloris); the others send
whole headers and then a body one byte a second, some to the sign-in form
(a route with a small body) and some to the upload route (a big one). A server
that closes a slow connection sees it come straight back. Meanwhile one signed-in
client sends GET /api/v1/me, each on a fresh connection as a new visitor would,
one after another; each request that takes longer than REQUEST_TIMEOUT counts as
an error rather than a figure.
"""

import contextlib
import errno
import http.client
import socket
import statistics
import threading
import time
from dataclasses import dataclass

from bench.servers import HOST

REQUEST_TIMEOUT = 10.0
TICK = 1.0  # seconds between two bytes of one slow client
CONNECTING = "connecting"


@dataclass(frozen=True)
class Kind:
    """One way of being slow: what is sent at once, then one byte a tick."""

    name: str
    share: float  # of the slow clients
    head: bytes
    trickle: bytes  # sent one byte a tick, then again from its start


KINDS = (
    Kind(
        "headers",
        0.75,
        b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        b"X-Slow: " + b"a" * 4000 + b"\r\n",
    ),
    Kind(
        "form body",
        0.125,
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 32768\r\n\r\n",
        b"a",
    ),
    Kind(
        "upload body",
        0.125,
        b"POST /api/v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: multipart/form-data; boundary=slow\r\n"
        b"Content-Length: 1073741824\r\n\r\n"
        b'--slow\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n',
        b"a",
    ),
)


class SlowClient:
    """One connection that sends its head, then a byte a tick; reconnects if cut."""

    def __init__(self, port: int, kind: Kind):
        self.port = port
        self.kind = kind
        self.sock: socket.socket | None = None
        self.sent = 0
        self.reconnects = 0

    def connect(self) -> None:
        self.sock = socket.create_connection((HOST, self.port), timeout=5)
        self.sock.sendall(self.kind.head)
        self.sock.setblocking(False)
        self.sent = 0

    def tick(self) -> None:
        """Send the next byte; start again on a fresh connection if it was cut."""
        try:
            if self.sock is None:
                self.connect()
                return
            if self._answered():
                raise ConnectionResetError(errno.ECONNRESET, "answered")
            trickle = self.kind.trickle
            self.sock.send(trickle[self.sent % len(trickle) :][:1])
            self.sent += 1
        except OSError:
            self.close()
            self.reconnects += 1

    def _answered(self) -> bool:
        """Whether the server answered or closed (either ends this attempt)."""
        try:
            return self.sock.recv(4096, socket.MSG_PEEK) is not None
        except BlockingIOError:
            return False

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None


class Swarm:
    """The slow clients, all driven by one thread (they cost the bench little)."""

    def __init__(self, port: int, count: int):
        self.clients = [
            SlowClient(port, kind)
            for kind in KINDS
            for _ in range(round(count * kind.share))
        ]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        for client in self.clients:
            client.tick()  # connect and send the head
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stopping.wait(TICK):
            for client in self.clients:
                client.tick()

    def __exit__(self, *exc_info):
        self.stopping.set()
        self.thread.join()
        for client in self.clients:
            client.close()

    def reconnects(self) -> dict[str, int]:
        counts = dict.fromkeys((kind.name for kind in KINDS), 0)
        for client in self.clients:
            counts[client.kind.name] += client.reconnects
        return counts


def small_requests(port: int, path: str, headers: dict, seconds: float):
    """Send GET `path` for `seconds`; return the timings in ms and the errors."""
    timings, errors = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        started = time.perf_counter()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise http.client.HTTPException(f"status {response.status}")
            timings.append((time.perf_counter() - started) * 1000)
        except (OSError, http.client.HTTPException):
            errors += 1
        finally:
            connection.close()
        time.sleep(0.01)  # a person clicking, not a load generator
    return timings, errors


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(client, count: int, seconds: float) -> dict[str, float]:
    """Time small requests while `count` slow clients trickle; return the figures."""
    path, headers = client.tiny_get()
    port = client.server.port
    with Swarm(port, count) as swarm:
        time.sleep(2 * TICK)  # every slow client has sent its head and a byte
        timings, errors = small_requests(port, path, headers, seconds)
    # A request not answered took at least the timeout: it counts as that.
    latencies = timings + [REQUEST_TIMEOUT * 1000] * errors
    figures = {
        "slow_p50": statistics.median(latencies),
        "slow_p99": percentile(latencies, 0.99),
        "slow_max": max(latencies),
        "slow_requests": float(len(timings)),
        "slow_errors": float(errors),
    }
    figures.update(
        {f"slow_reconnects_{k}": float(v) for k, v in swarm.reconnects().items()}
    )
    return figures
