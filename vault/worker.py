"""The gunicorn worker vault ships (gunicorn.conf.py): gthread, minus slow clients.

gunicorn's gthread worker gives a connection to a thread as soon as its first
byte arrives, and the thread then blocks until the client has sent the whole
request head, however slowly it comes, and again on every read of the body. A
few dozen anonymous clients that send their headers or a small body one byte a
second (slowloris, slow POST) hold every thread, and nobody else is answered.

This worker reads in its event loop, where a waiting connection costs no
thread, until it holds the whole head and, for a body of at most
PREREAD_BYTES (forms, JSON), the whole body too. Only then does a thread take
the request, and it never waits for the client. Larger bodies (uploads, tus
PATCHes) stream to the application as it reads them, so they need a thread;
at most `threads - RESERVED_THREADS` at once, so that requests without a big
body always find one free. The others wait their turn in the event loop.

A client gets VAULT_CLIENT_TIMEOUT seconds to send a request's head (and small
body); a body that then sends nothing for as long is cut off, which the
application sees as a client that went away. Closing a connection that may still
be sending (RFC 9112 section 9.6) lingers in the event loop too, not in it
blocking everyone.

It relies on gthread's internals, hence gunicorn's version pin in pyproject.toml;
tests/test_slow_clients.py proves it against the installed gunicorn.
"""

import os
import socket
import time
from collections import deque
from functools import partial
from selectors import EVENT_READ

from gunicorn import util
from gunicorn.workers import gthread

PREREAD_BYTES = 64 * 1024
# gunicorn's own limits: 100 fields of 16 KiB (gunicorn.conf.py) and a line.
MAX_HEAD_BYTES = 100 * 16384 + 8190
RESERVED_THREADS = 2
RECEIVE_BYTES = 65536
LINGER_SECONDS = 2.0
LINGER_BYTES = 65536
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def client_timeout() -> float:
    return float(os.environ.get("VAULT_CLIENT_TIMEOUT", "20"))


class Connection(gthread.TConn):
    """gthread's connection, with what the event loop has read of its request."""

    def __init__(self, worker, *args):
        super().__init__(*args)
        self.worker = worker
        self.received = bytearray()  # read by the event loop, not yet parsed
        self.scanned = 0  # where to look for the end of the head next
        self.head_end = -1  # where the head ends, once it has all come
        self.deadline = 0.0
        self.continued = False  # whether the event loop sent 100 Continue
        self.streams_body = False  # holds one of the threads for big bodies
        self.stalled = False  # the body sent nothing for the client timeout
        self.lingered = 0  # bytes discarded while closing

    def close(self, graceful=False):
        if graceful:
            self.worker.linger(self)
        else:
            util.close(self.sock)


class PatientSocket:
    """The socket the parser reads: a read gives up after `timeout` s of silence.

    Giving up returns b"" (the end of the stream), so the application sees a
    short body, as from a client that went away, and cleans up as it does then.
    A timeout gunicorn sets itself (draining a body it did not read) is honoured
    the usual way, by raising.
    """

    def __init__(self, connection: Connection, timeout: float):
        self.connection = connection
        self.timeout = timeout
        self.explicit: float | None = None

    def recv(self, size: int) -> bytes:
        sock = self.connection.sock
        sock.settimeout(self.timeout if self.explicit is None else self.explicit)
        try:
            return sock.recv(size)
        except TimeoutError:
            if self.explicit is not None:
                raise
            self.connection.stalled = True
            return b""
        finally:
            sock.settimeout(None)

    def gettimeout(self) -> float | None:
        return self.explicit

    def settimeout(self, value: float | None) -> None:
        self.explicit = value


def body_to_read(head: bytes) -> int | None:
    """Return how many body bytes to read before a thread takes the request.

    None means the body streams to the application (chunked, or too big to
    hold); 0 also covers a head the parser will refuse.
    """
    lengths, chunked = [], False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"transfer-encoding":
            chunked = True
        elif name == b"content-length":
            lengths.append(value.strip())
    if chunked:
        return None
    if not lengths:
        return 0
    if len(lengths) > 1 or not lengths[0].isdigit() or len(lengths[0]) > 18:
        return 0  # malformed: gunicorn's parser answers 400
    length = int(lengths[0])
    return length if length <= PREREAD_BYTES else None


class ThreadWorker(gthread.ThreadWorker):
    """gthread whose threads only ever wait for the application."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.client_timeout = client_timeout()
        self.body_threads = max(1, self.cfg.threads - RESERVED_THREADS)
        self.streaming = 0
        self.waiting_bodies: deque[Connection] = deque()
        self.reading: deque[Connection] = deque()
        self.lingering: deque[Connection] = deque()
        # TLS and HTTP/2 connections are served the way gthread serves them.
        plain = not self.cfg.is_ssl and list(self.cfg.http_protocols) == ["h1"]
        self.reads_itself = plain

    def accept(self, listener):
        # gthread's accept, with our connection class.
        try:
            client_sock, client_addr = listener.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return
        self.nr_conns += 1
        connection = Connection(
            self, self.cfg, client_sock, client_addr, listener.getsockname()
        )
        self.enqueue_req(connection)

    def enqueue_req(self, conn):
        """Read the request in the event loop; give it to a thread once whole."""
        if not self.reads_itself:
            super().enqueue_req(conn)
            return
        if conn.parser is not None:
            # A pipelined request that a body drain read ahead.
            conn.received[:0] = conn.parser.unreader.take_buffered()
        conn.sock.setblocking(False)
        conn.deadline = time.monotonic() + self.client_timeout
        self.reading.append(conn)
        self.poller.register(conn.sock, EVENT_READ, partial(self.on_request_data, conn))
        if conn.received:
            self.consider(conn)

    def on_request_data(self, conn, sock):
        try:
            data = sock.recv(RECEIVE_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop(conn)
            return
        conn.received += data
        if conn.head_end >= 0:
            # The head came in time; a small body may take longer if it
            # keeps coming, since waiting for it costs no thread.
            conn.deadline = time.monotonic() + self.client_timeout
        self.consider(conn)

    def consider(self, conn):
        """Hand the request to a thread if the event loop holds enough of it."""
        if conn.head_end < 0:
            conn.head_end = conn.received.find(b"\r\n\r\n", conn.scanned)
        head_end = conn.head_end
        if head_end < 0:
            conn.scanned = max(0, len(conn.received) - 3)
            if len(conn.received) > MAX_HEAD_BYTES:
                self.dispatch(conn)  # the parser answers 400
            return
        length = body_to_read(conn.received[:head_end])
        if length is None:
            self.stop_reading(conn)
            self.stream_body(conn)
            return
        if len(conn.received) < head_end + 4 + length:
            head = bytes(conn.received[:head_end]).lower()
            if not conn.continued and b"100-continue" in head:
                # The client waits for this before it sends its body. gunicorn
                # sends a second one later; clients skip any number of 1xx.
                conn.continued = True
                try:
                    conn.sock.send(CONTINUE)
                except OSError:
                    self.drop(conn)
            return
        self.dispatch(conn)

    def drop(self, conn):
        self.stop_reading(conn)
        self.nr_conns -= 1
        conn.close()

    def stop_reading(self, conn):
        self.poller.unregister(conn.sock)
        self.reading.remove(conn)

    def dispatch(self, conn):
        if conn in self.reading:
            self.stop_reading(conn)
        conn.data_ready = True
        super().enqueue_req(conn)

    def stream_body(self, conn):
        if self.streaming < self.body_threads:
            self.streaming += 1
            conn.streams_body = True
            self.dispatch(conn)
        else:
            self.waiting_bodies.append(conn)

    def finish_request(self, conn, fs):
        if getattr(conn, "streams_body", False):
            conn.streams_body = False
            self.streaming -= 1
            if self.waiting_bodies:
                self.stream_body(self.waiting_bodies.popleft())
        super().finish_request(conn, fs)

    def handle(self, conn):
        """Serve the request in a thread, from what the event loop read."""
        if self.reads_itself:
            conn.sock.setblocking(True)
            conn.init()
            unreader = conn.parser.unreader
            if not isinstance(unreader.sock, PatientSocket):
                unreader.sock = PatientSocket(conn, self.client_timeout)
            unreader.unread(bytes(conn.received))
            conn.received.clear()
            conn.scanned, conn.head_end = 0, -1
        return super().handle(conn)

    def _keepalive_after(self, conn, keepalive):
        if getattr(conn, "stalled", False):
            return False
        return super()._keepalive_after(conn, keepalive)

    def linger(self, conn):
        """Close after the client has stopped sending, without a thread waiting."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            util.close(conn.sock)
            return
        conn.deadline = time.monotonic() + LINGER_SECONDS
        conn.lingered = 0
        self.lingering.append(conn)
        self.poller.register(conn.sock, EVENT_READ, partial(self.on_linger_data, conn))

    def on_linger_data(self, conn, sock):
        try:
            data = sock.recv(RECEIVE_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        conn.lingered += len(data)
        if not data or conn.lingered >= LINGER_BYTES:
            self.poller.unregister(sock)
            self.lingering.remove(conn)
            util.close(sock)

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        # Not in deadline order (a body that keeps coming gets more time): all
        # are looked at, once a second.
        for conn in [conn for conn in self.reading if conn.deadline <= now]:
            self.drop(conn)
        while self.lingering and self.lingering[0].deadline <= now:
            conn = self.lingering.popleft()
            self.poller.unregister(conn.sock)
            util.close(conn.sock)
