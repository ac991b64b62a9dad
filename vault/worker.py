"""The gunicorn worker vault ships (gunicorn_settings.py): gthread, minus slow clients.

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

A client gets VAULT_CLIENT_TIMEOUT seconds to send a request's head, and a
small body (chunked or not) as long after each of its pieces, up to
SMALL_BODY_TIMEOUTS in all. A big body that sends nothing for a timeout, or
less than MIN_BODY_RATE bytes a second over one, is cut off, which the
application sees as a client that went away; one that waits WAIT_FOR_THREAD
timeouts for a thread is answered 503. Closing a connection that may still
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

from vault.worker_reads import (
    CHUNKED,
    PREREAD_BYTES,
    PatientSocket,
    body_to_read,
    chunked_body,
)

# The longest a small body may take to come, in client timeouts.
SMALL_BODY_TIMEOUTS = 6
# How long a big body waits for a body thread, in client timeouts.
WAIT_FOR_THREAD = 3
# gunicorn's own limits: 100 fields of 16 KiB (gunicorn_settings.py) and a line.
MAX_HEAD_BYTES = 100 * 16384 + 8190
RESERVED_THREADS = 2
RECEIVE_BYTES = 65536
# Closing a connection whose request body was not read: the rest is read and
# dropped for up to this long, and this much, before the close. Closing with
# unread bytes resets the connection, and a reset makes the client (nginx,
# which sends a whole body before it reads the answer) drop the answer it
# has not read yet: a 502 instead of a 401. In the event loop, it costs no
# thread; the limits bound what a client that never stops costs.
LINGER_SECONDS = 5.0
LINGER_BYTES = 64 * 1024 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
BAD_CHUNKS = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
    b"Connection: close\r\nContent-Length: 45\r\n\r\n"
    b"The chunked body is mostly framing: refused.\n"
)
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Retry-After: 5\r\nConnection: close\r\nContent-Length: 49\r\n\r\n"
    b"Too many uploads at once: try again in a moment.\n"
)


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
        self.head_seen = False  # whether the body's deadline has started
        self.chunk_at = 0  # where `chunked_body` reads on
        self.chunk_data = 0  # the bytes of the complete chunks so far
        self.last_call = 0.0  # when a small body must have come, at the latest
        self.deadline = 0.0
        self.continued = False  # whether the event loop sent 100 Continue
        self.streams_body = False  # holds one of the threads for big bodies
        self.stalled = False  # the body was too slow for the client timeout
        self.lingered = 0  # bytes discarded while closing

    def close(self, graceful=False):
        if graceful:
            self.worker.linger(self)
        else:
            util.close(self.sock)


def receive(sock) -> bytes | None:
    """Read what a non-blocking socket holds: None if nothing yet, b"" at its
    end (or on an error, which ends it too)."""
    try:
        return sock.recv(RECEIVE_BYTES)
    except BlockingIOError:
        return None
    except OSError:
        return b""


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
        conn.head_seen, conn.chunk_at, conn.chunk_data = False, 0, 0
        self.reading.append(conn)
        self.poller.register(conn.sock, EVENT_READ, partial(self.on_request_data, conn))
        if conn.received:
            self.consider(conn)

    def on_request_data(self, conn, sock):
        data = receive(sock)
        if data is None:
            return
        if not data:
            self.drop(conn)
            return
        conn.received += data
        if conn.head_seen:
            # A small body may take longer while it keeps coming, since
            # waiting for it costs no thread; not for ever.
            conn.deadline = min(time.monotonic() + self.client_timeout, conn.last_call)
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
        if not conn.head_seen:
            # The head came in time; the body gets as long again.
            conn.head_seen = True
            conn.deadline = time.monotonic() + self.client_timeout
            conn.last_call = (
                time.monotonic() + SMALL_BODY_TIMEOUTS * self.client_timeout
            )
        body = self.body_state(conn, head_end)
        if body == "streams":
            self.stop_reading(conn)
            self.stream_body(conn)
        elif body == "coming":
            self.continue_if_asked(conn, head_end)
        elif body == "framing":
            self.stop_reading(conn)
            self.refuse(conn, BAD_CHUNKS)
        else:
            self.dispatch(conn)

    def body_state(self, conn, head_end: int) -> str:
        """Say whether the body is all here, still "coming" (small: the event
        loop waits for it), "streams" (big: a body thread reads it), or is
        "framing" (more framing than data, past PREREAD_BYTES: chunks so tiny
        no honest client sends them, refused)."""
        body_start = head_end + 4
        length = body_to_read(conn.received[:head_end])
        if length == CHUNKED:
            # Judged by its bytes less the framing, so that tiny chunks cannot
            # make a small body hold a thread.
            conn.chunk_at = max(conn.chunk_at, body_start)
            if chunked_body(conn.received, conn):
                return "here"
            framed = conn.chunk_at - body_start  # complete chunks, framing included
            if framed > PREREAD_BYTES and framed > 2 * conn.chunk_data:
                return "framing"
            if conn.chunk_data + len(conn.received) - conn.chunk_at > PREREAD_BYTES:
                return "streams"
            return "coming"
        if length is None:
            return "streams"
        return "coming" if len(conn.received) < body_start + length else "here"

    def continue_if_asked(self, conn, head_end: int) -> None:
        head = bytes(conn.received[:head_end]).lower()
        if not conn.continued and b"100-continue" in head:
            # The client waits for this before it sends its body. gunicorn
            # sends a second one later; clients skip any number of 1xx.
            conn.continued = True
            try:
                conn.sock.send(CONTINUE)
            except OSError:
                self.drop(conn)

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
            conn.deadline = time.monotonic() + WAIT_FOR_THREAD * self.client_timeout
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
        data = receive(sock)
        if data is None:
            return
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
        while self.waiting_bodies and self.waiting_bodies[0].deadline <= now:
            self.refuse(self.waiting_bodies.popleft(), BUSY)
        while self.lingering and self.lingering[0].deadline <= now:
            conn = self.lingering.popleft()
            self.poller.unregister(conn.sock)
            util.close(conn.sock)

    def refuse(self, conn, answer: bytes):
        """Answer from the event loop, and close: BUSY to a big body that
        waited WAIT_FOR_THREAD client timeouts for a thread (every body thread
        busy with uploads), BAD_CHUNKS to a body of tiny chunks."""
        self.nr_conns -= 1
        try:
            conn.sock.setblocking(True)
            conn.sock.settimeout(1)
            conn.sock.sendall(answer)
        except OSError:
            util.close(conn.sock)
            return
        self.linger(conn)
