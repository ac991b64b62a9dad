"""Slow clients hold no thread of gunicorn as the shipped gunicorn.conf.py runs it.

One worker with 4 threads, and 2 s for a client to send a request's head: many
more slow connections than threads, and everyone else is still answered. The
time bounds are generous: they only tell "answered" from "starved".
"""

import contextlib
import http.client
import socket

import pytest

from tests.helpers import assert_nothing_stored
from tests.servers import served

pytestmark = pytest.mark.bytes

THREADS = 4
SLOW = 3 * THREADS  # slow connections: many more than threads
CLIENT_TIMEOUT = 2  # seconds (the shipped default is 20)
ANSWERED_WITHIN = 10  # seconds: starved requests never are


@pytest.fixture
def server(app, tmp_path):
    with served(
        app,
        tmp_path / "gunicorn.log",
        workers=1,
        threads=THREADS,
        client_timeout=CLIENT_TIMEOUT,
        max_upload_bytes=app.config["MAX_UPLOAD_BYTES"],
    ) as (port, _):
        yield port


@pytest.fixture
def slow_connections():
    """Open connections that send `head` and then nothing; closed after the test."""
    opened = []

    def open_slow(port: int, head: bytes, count: int = SLOW) -> list[socket.socket]:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(head)
            opened.append(sock)
        return opened[-count:]

    yield open_slow
    for sock in opened:
        with contextlib.suppress(OSError):
            sock.close()


def status_of(port: int, method: str = "GET", path: str = "/login", **options) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWERED_WITHIN)
    try:
        connection.request(method, path, **options)
        return connection.getresponse().status
    finally:
        connection.close()


def closed_by_server(sock: socket.socket) -> bytes:
    """Wait for the server to close `sock`; return what it sent before."""
    sock.settimeout(ANSWERED_WITHIN)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def upload_head(headers: dict, rest: int) -> bytes:
    """The head of a multipart upload and the start of its body: `rest` to come."""
    part = '--b\r\nContent-Disposition: form-data; name="file"; filename="slow.txt"'
    start = f"{part}\r\n\r\n"
    lines = [
        "POST /api/v1/files HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: multipart/form-data; boundary=b",
        f"Content-Length: {len(start) + rest}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + start).encode()


def test_clients_trickling_headers_hold_no_thread(server, slow_connections):
    slow_connections(server, b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")

    assert status_of(server) == 302


def test_clients_trickling_a_small_body_hold_no_thread(server, slow_connections):
    slow_connections(
        server,
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 1000\r\n\r\nemail=",
    )

    assert status_of(server) == 302


CHUNKED_LOGIN = (
    b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


def test_clients_trickling_a_small_chunked_body_hold_no_thread(
    server, slow_connections
):
    slow_connections(server, CHUNKED_LOGIN + b"6\r\nemail=\r\n")

    assert status_of(server) == 302


def test_tiny_chunks_cannot_pass_for_a_big_body(server, slow_connections):
    # A megabyte of framing around 170 KB of data: read by the event loop and
    # refused there, never given a body thread to drip into.
    [sock] = slow_connections(server, CHUNKED_LOGIN + b"1\r\nx\r\n" * 170_000, 1)

    answer = closed_by_server(sock)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert answer.endswith(b"The chunked body is mostly framing: refused.\n")
    assert status_of(server) == 302


def test_a_small_chunked_body_is_read_whole_and_answered(server):
    body = b"email=a%40example.com&password=x"
    request = CHUNKED_LOGIN + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(request)
        sock.settimeout(ANSWERED_WITHIN)
        answer = sock.recv(65536)

    # The sign-in form without its CSRF token: the application read the body.
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_a_head_that_never_ends_is_cut_off(server, slow_connections):
    [sock] = slow_connections(server, b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n", 1)

    assert closed_by_server(sock) == b""


def test_uploads_leave_threads_for_other_requests(
    server, slow_connections, alice, api_headers
):
    # Big bodies stream to the application, so each upload holds a thread:
    # never all of them.
    head = upload_head(api_headers(alice), 1024 * 1024)
    slow_connections(server, head, THREADS)

    assert status_of(server, "GET", "/api/v1/me", headers=api_headers(alice)) == 200


def test_a_stalled_upload_is_cut_off_and_frees_its_thread(
    app, server, slow_connections, alice, api_headers
):
    head = upload_head(api_headers(alice), 1024 * 1024)
    stalled = slow_connections(server, head + b"x" * 1000, THREADS)

    for sock in stalled:
        assert closed_by_server(sock).startswith(b"HTTP/1.1 400 ")
    assert_nothing_stored(app)
    data = b"\r\n".join(
        [
            b"--b",
            b'Content-Disposition: form-data; name="file"; filename="a.txt"',
            b"",
            b"hello",
            b"--b--",
            b"",
        ]
    )
    headers = {**api_headers(alice), "Content-Type": "multipart/form-data; boundary=b"}
    assert status_of(server, "POST", "/api/v1/files", body=data, headers=headers) == 201


# Read in the event loop (a small body), and by the application (a big one).
@pytest.mark.parametrize("piece", [1000, 20_000])
def test_an_upload_that_keeps_sending_is_never_cut_off(
    server, alice, api_headers, piece
):
    # One piece a second: twice the client timeout in all, but never silent.
    pieces = [b"x" * piece] * 2 * CLIENT_TIMEOUT
    tail = b"\r\n--b--\r\n"
    head = upload_head(api_headers(alice), sum(map(len, pieces)) + len(tail))
    sock = socket.create_connection(("127.0.0.1", server))
    with sock:
        sock.sendall(head)
        sock.settimeout(CLIENT_TIMEOUT / 2)
        for piece in pieces:
            sock.sendall(piece)
            # Half the client timeout without an answer: the server still waits.
            with pytest.raises(TimeoutError):
                sock.recv(1)
        sock.sendall(tail)
        sock.settimeout(ANSWERED_WITHIN)
        answer = sock.recv(65536)

    assert answer.startswith(b"HTTP/1.1 201 ")


def test_an_upload_that_only_drips_is_cut_off(server, alice, api_headers):
    # A byte every half second: never silent, but far below 64 bytes a second.
    head = upload_head(api_headers(alice), 1024 * 1024)
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(head + b"x" * 1000)
        sock.settimeout(0.5)
        answer = b""
        for _ in range(8 * CLIENT_TIMEOUT):
            sock.sendall(b"x")
            with contextlib.suppress(TimeoutError):
                answer = sock.recv(65536)
            if answer:
                break

    assert answer.startswith(b"HTTP/1.1 400 ")


def test_an_upload_waiting_too_long_for_a_thread_is_told_to_come_back(
    server, alice, api_headers
):
    # Both body threads (4 threads, 2 kept for the rest) stay busy with
    # uploads that keep sending; a third waits three client timeouts, then
    # gets a 503 it can retry after.
    head = upload_head(api_headers(alice), 1024 * 1024)
    busy = [socket.create_connection(("127.0.0.1", server)) for _ in range(2)]
    waiting = socket.create_connection(("127.0.0.1", server))
    try:
        for sock in busy:
            sock.sendall(head)
        waiting.sendall(head)
        waiting.settimeout(0.5)
        answer = b""
        for _ in range(8 * CLIENT_TIMEOUT):
            for sock in busy:
                sock.sendall(b"x" * 1000)
            with contextlib.suppress(TimeoutError):
                answer = waiting.recv(65536)
            if answer:
                break
    finally:
        for sock in [*busy, waiting]:
            sock.close()

    assert answer.startswith(b"HTTP/1.1 503 ")
    assert b"Retry-After: 5" in answer
    assert answer.endswith(b"Too many uploads at once: try again in a moment.\n")


def test_a_body_refused_unread_is_drained_so_its_answer_arrives(server):
    # A client (or a proxy such as nginx) that sends a whole big body before
    # it reads the answer: vault refuses an upload larger than the limit
    # without reading it, then reads and drops the rest, instead of resetting
    # the connection, which would throw the answer away on the client's side.
    body = 32 * 1024 * 1024
    head = upload_head({}, body)
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(head)
        sock.sendall(b"x" * body)
        answer = closed_by_server(sock)

    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(b'"The upload is larger than the 8.4 MB limit."}}\n')
