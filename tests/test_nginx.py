"""vault behind a real nginx, configured with the shipped docs/deploy/nginx.conf.

gunicorn serves vault with VAULT_ACCEL_REDIRECT=/protected/; nginx (Debian's
package, run as whoever runs the tests) serves the shipped server block on a
free port, with only its ports and storage path changed. vault checks access
and writes the headers; nginx sends the bytes and answers Range.
"""

import hashlib
import http.client
import json
import os
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import factories
from tests.conftest import PASSWORD, base_config, fresh_app
from tests.helpers import node
from tests.servers import (
    PROJECT_ROOT,
    free_port,
    gunicorn_environment,
    start_gunicorn,
    stop,
    wait_until_answering,
)
from tests.test_shares_public import link_row, make_link
from vault.models import Node
from vault.services.share_downloads import UNIT, cost

# Hands a local file to the server or the proxy, or fills a local disk.
pytestmark = pytest.mark.local_storage

NGINX = Path("/usr/sbin/nginx")
SHIPPED_CONFIG = PROJECT_ROOT / "docs" / "deploy" / "nginx.conf"
BOUNDARY = "nginxtestboundary"
# Not a multiple of anything, and no two ranges alike.
CONTENT = random.Random(6).randbytes(3 * 1024 * 1024 + 123)

pytestmark = pytest.mark.skipif(
    not NGINX.exists(),
    reason="needs Debian's nginx (/usr/sbin/nginx): apt-get install nginx",
)


def server_block(storage_dir: str, nginx_port: int, vault_port: int) -> str:
    """Return the shipped server block with the test's ports and storage path."""
    text = SHIPPED_CONFIG.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{nginx_port};",
        "listen [::]:80;": "",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{vault_port};",
        "alias /srv/vault/instance/storage/;": f"alias {storage_dir}/;",
        # main_config puts both logs, the test's and the shipped one, in run_dir.
        "access_log /var/log/nginx/vault.access.log vault_private;": "",
    }
    for shipped, ours in replacements.items():
        assert shipped in text, f"docs/deploy/nginx.conf no longer has {shipped!r}"
        text = text.replace(shipped, ours)
    return text


HANDOVER_LOG = (
    "'$request_method $request_uri $status accel=$upstream_http_x_accel_redirect'"
)


def main_config(
    run_dir: Path, server: str, log: str = HANDOVER_LOG, connections: int = 64
) -> str:
    """Wrap a server block the way Debian's nginx.conf does, with paths in run_dir.

    One process, in the foreground, as the current user: no root needed, and
    the process we start is the one we stop. The access log has the format
    `log`: by default whether vault handed the request over, and where. The
    shipped format, where the server block has it, logs to shipped.log.
    """
    shipped_log = (
        f"    access_log {run_dir / 'shipped.log'} vault_private;"
        if "log_format vault_private" in server
        else ""
    )
    temp_paths = "\n".join(
        f"    {kind}_temp_path {run_dir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
daemon off;
master_process off;
pid {run_dir / "nginx.pid"};
error_log {run_dir / "error.log"} notice;
events {{
    worker_connections {connections};
}}
http {{
    default_type application/octet-stream;
    log_format test {log};
    access_log {run_dir / "access.log"} test;
{temp_paths}
{server}
{shipped_log}
}}
"""


def nginx_command(run_dir: Path, *options: str) -> list[str]:
    return [
        str(NGINX),
        "-p",
        f"{run_dir}/",
        "-c",
        str(run_dir / "nginx.conf"),
        "-e",
        str(run_dir / "error.log"),
        *options,
    ]


def assert_nginx_accepts(run_dir: Path) -> None:
    checked = subprocess.run(  # noqa: S603 (our own nginx, fixed arguments)
        nginx_command(run_dir, "-t"), capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    # nginx's access log line for the request: method, URL, status and
    # "accel=" followed by the X-Accel-Redirect vault answered with, or "-".
    logged: str


class Servers:
    def __init__(self, app, nginx_port: int, vault_port: int, run_dir: Path):
        self.app = app
        self.port, self.vault_port = nginx_port, vault_port
        self.access_log = run_dir / "access.log"
        self.shipped_log = run_dir / "shipped.log"

    def request(self, method, path, headers=None, body=None) -> Answer:
        """Send one request through nginx and wait for its access log line."""
        logged_before = len(self._log_lines())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            status, answer_headers, content = (
                response.status,
                response.headers,
                response.read(),
            )
        finally:
            connection.close()
        return Answer(status, answer_headers, content, self._next_line(logged_before))

    def _log_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines()

    def _next_line(self, seen: int) -> str:
        # nginx logs a request just after its last byte is sent: wait for it.
        # One nginx process and one request at a time: the next line is ours.
        deadline = time.monotonic() + 5
        while (lines := self._log_lines())[seen:] == []:
            assert time.monotonic() < deadline, "nginx did not log the request"
            time.sleep(0.01)
        return lines[seen]


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    """An app of its own for the module: starting the servers once keeps it quick."""
    with fresh_app(base_config(tmp_path_factory.mktemp("served"))) as app:
        yield app


@pytest.fixture(scope="module")
def people(served_app):
    """alice and bob, with a bearer token each."""
    with served_app.app_context():
        users = {
            name: factories.create_user(f"{name}@example.com", PASSWORD)
            for name in ("alice", "bob")
        }
        return {
            name: (user, {"Authorization": f"Bearer {factories.create_token(user)}"})
            for name, user in users.items()
        }


@pytest.fixture(scope="module")
def servers(served_app, tmp_path_factory):
    """vault under gunicorn with X-Accel-Redirect, behind nginx; both stopped after."""
    app = served_app
    run_dir = tmp_path_factory.mktemp("nginx")
    vault_port, nginx_port = free_port(), free_port()
    storage_dir = os.path.abspath(app.config["STORAGE_DIR"])
    (run_dir / "nginx.conf").write_text(
        main_config(run_dir, server_block(storage_dir, nginx_port, vault_port))
    )
    assert_nginx_accepts(run_dir)

    environment = gunicorn_environment(
        app,
        vault_port,
        workers=1,
        threads=4,
        accel_redirect="/protected/",
        trusted_proxies=1,
        # What production sets without VAULT_BASE_URL: only this host name.
        trusted_hosts="127.0.0.1",
    )
    gunicorn_log = run_dir / "gunicorn.log"
    nginx_log = run_dir / "error.log"
    processes = []
    try:
        processes.append(start_gunicorn(environment, gunicorn_log))
        processes.append(
            subprocess.Popen(  # noqa: S603 (our own nginx, fixed arguments)
                nginx_command(run_dir),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_until_answering(vault_port, processes[0], gunicorn_log)
        wait_until_answering(nginx_port, processes[1], nginx_log)
        yield Servers(app, nginx_port, vault_port, run_dir)
    finally:
        for process in reversed(processes):
            stop(process)


def multipart(name: str, content: bytes) -> tuple[dict, bytes]:
    body = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body += content + f"\r\n--{BOUNDARY}--\r\n".encode()
    return {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, body


def upload_through(servers, person, name, content) -> Node:
    """Upload a file through nginx with the API; return its row."""
    user, headers = person
    form_headers, body = multipart(name, content)
    answer = servers.request("POST", "/api/v1/files", {**headers, **form_headers}, body)
    assert answer.status == 201, answer.body
    return node(servers.app, json.loads(answer.body)["files"][0]["id"])


def test_nginx_accepts_the_shipped_config(tmp_path):
    server = server_block(str(tmp_path / "storage"), free_port(), free_port())
    (tmp_path / "nginx.conf").write_text(main_config(tmp_path, server))

    assert_nginx_accepts(tmp_path)


def test_nginx_sends_the_file_with_our_headers(people, servers):
    file = upload_through(servers, people["alice"], "résumé 2024.zip", CONTENT)

    answer = servers.request(
        "GET", f"/api/v1/files/{file.id}/content", people["alice"][1]
    )

    assert answer.status == 200
    assert hashlib.sha256(answer.body).hexdigest() == file.sha256
    assert answer.body == CONTENT
    assert answer.logged == (
        f"GET /api/v1/files/{file.id}/content 200 accel=/protected/{file.storage_key}"
    )
    headers = answer.headers
    assert headers["Content-Length"] == str(len(CONTENT))
    assert headers["Content-Type"] == "application/zip"
    assert headers["Content-Disposition"] == (
        'attachment; filename="r_sum_ 2024.zip"; '
        "filename*=UTF-8''r%C3%A9sum%C3%A9%202024.zip"
    )
    assert headers["Content-Security-Policy"] == "sandbox; frame-ancestors 'self'"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "private, no-cache"
    assert headers["ETag"] == f'"{file.sha256}"'
    assert headers.get_all("Accept-Ranges") == ["bytes"]
    assert "X-Accel-Redirect" not in headers


def test_nginx_answers_range_requests(people, servers):
    file = upload_through(servers, people["alice"], "clip.mp4", CONTENT)
    url, headers = f"/api/v1/files/{file.id}/content", people["alice"][1]
    size, tail_start = len(CONTENT), len(CONTENT) - 1024 * 1024
    etag = f'"{file.sha256}"'

    tail = servers.request("GET", url, {**headers, "Range": "bytes=-1048576"})
    middle = servers.request(
        "GET", url, {**headers, "Range": "bytes=1000-1999", "If-Range": etag}
    )
    stale = servers.request(
        "GET", url, {**headers, "Range": "bytes=1000-1999", "If-Range": '"old"'}
    )
    beyond = servers.request("GET", url, {**headers, "Range": f"bytes={size}-"})

    assert (tail.status, tail.body) == (206, CONTENT[tail_start:])
    assert tail.headers["Content-Range"] == f"bytes {tail_start}-{size - 1}/{size}"
    assert tail.headers["Content-Security-Policy"] == "sandbox; frame-ancestors 'self'"
    assert tail.headers["X-Content-Type-Options"] == "nosniff"
    assert (middle.status, middle.body) == (206, CONTENT[1000:2000])
    assert (stale.status, stale.body) == (200, CONTENT)
    assert beyond.status == 416
    assert beyond.headers["Content-Range"] == f"bytes */{size}"
    # vault handed each one over whole; nginx cut the ranges.
    for answer in (tail, middle, stale, beyond):
        assert answer.logged.endswith(f" accel=/protected/{file.storage_key}")


def test_conditional_requests_are_answered_by_vault(people, servers):
    file = upload_through(servers, people["alice"], "notes.txt", b"hello nginx\n")
    url, headers = f"/api/v1/files/{file.id}/content", people["alice"][1]
    first = servers.request("GET", url, headers)

    again = servers.request(
        "GET", url, {**headers, "If-None-Match": first.headers["ETag"]}
    )
    since = servers.request(
        "GET", url, {**headers, "If-Modified-Since": first.headers["Last-Modified"]}
    )

    assert first.body == b"hello nginx\n"
    for answer in (again, since):
        assert (answer.status, answer.body) == (304, b"")
        assert answer.logged.endswith(" 304 accel=-")


def test_the_protected_location_is_not_reachable_from_outside(people, servers):
    file = upload_through(servers, people["alice"], "notes.txt", b"secret\n")

    answer = servers.request("GET", f"/protected/{file.storage_key}")

    assert answer.status == 404
    assert b"secret" not in answer.body


def test_someone_elses_file_is_not_found_behind_nginx(people, servers):
    file = upload_through(servers, people["alice"], "notes.txt", b"secret\n")

    answer = servers.request(
        "GET", f"/api/v1/files/{file.id}/content", people["bob"][1]
    )

    assert answer.status == 404
    assert b"secret" not in answer.body
    assert answer.logged.endswith(" 404 accel=-")


def test_a_limited_link_is_sent_by_vault_and_charged_by_the_byte(
    served_app, people, servers
):
    file = upload_through(servers, people["alice"], "clip.mp4", CONTENT)
    link = make_link(served_app, people["alice"][0], file, max_downloads=2)
    url = f"{link.url}/download"

    part = servers.request("GET", url, {"Range": "bytes=0-99"})
    whole = servers.request("GET", url)

    assert (part.status, part.body) == (206, CONTENT[:100])
    assert (whole.status, whole.body) == (200, CONTENT)
    assert whole.logged.endswith(" 200 accel=-")  # vault sent it, not nginx
    assert whole.headers["Referrer-Policy"] == "no-referrer"
    assert whole.headers["X-Robots-Tag"] == "noindex"
    assert whole.headers["Cache-Control"] == "private, no-store"
    assert link_row(served_app, link).download_units == UNIT + cost(
        0, 100, len(CONTENT)
    )


SMALL = CONTENT[:100_000]
CURRENT_ETAG, CURRENT_DATE = "<the current ETag>", "<the current Last-Modified>"


@pytest.mark.parametrize(
    "range_header, if_range, status",
    [
        ("bytes=0-", None, 206),
        ("bytes=0-99", None, 206),
        ("bytes=-100", None, 206),
        (f"bytes=-{2 * len(SMALL)}", None, 206),
        (f"bytes={len(SMALL)}-", None, 416),
        ("bytes=-0", None, 416),
        ("bytes=5-3", None, 416),
        ("bytes=0-1,5-9", None, 200),
        ("BYTES=0-99", None, 206),
        ("bytes=0 - 99", None, 206),
        ("bytes = 0-99", None, 200),
        ("items=0-99", None, 200),
        ("bytes=0-99", CURRENT_ETAG, 206),
        ("bytes=0-99", CURRENT_DATE, 206),
        ("bytes=0-99", '"old"', 200),
        ("bytes=0-99", f"W/{CURRENT_ETAG}", 200),
        ("bytes=0-99", "Thu, 01 Jan 2099 00:00:00 GMT", 200),
        ("bytes=0-99", "garbage", 200),
    ],
)
def test_a_share_link_is_charged_exactly_what_nginx_sends(
    served_app, people, servers, range_header, if_range, status
):
    file = upload_through(servers, people["alice"], "clip.mp4", SMALL)
    link = make_link(served_app, people["alice"][0], file)  # handed to nginx
    url = f"{link.url}/download"
    validators = servers.request("HEAD", url).headers
    headers = {"Range": range_header}
    if if_range is not None:
        headers["If-Range"] = if_range.replace(
            CURRENT_ETAG, validators["ETag"]
        ).replace(CURRENT_DATE, validators["Last-Modified"])

    answer = servers.request("GET", url, headers)

    assert answer.status == status
    assert f" {status} accel=/protected/" in answer.logged
    assert link_row(served_app, link).download_units == charge_of(answer, len(SMALL))


def charge_of(answer, size: int) -> int:
    """Return what the bytes nginx sent cost: its Content-Range, or all of it."""
    if answer.status == 416:
        return 0
    if answer.status == 200:
        return UNIT
    first, last = answer.headers["Content-Range"].split()[1].split("/")[0].split("-")
    return cost(int(first), int(last) + 1, size)


def test_a_tus_upload_through_nginx_keeps_the_port_in_its_location(people, servers):
    headers = {**people["alice"][1], "Tus-Resumable": "1.0.0"}
    created = servers.request(
        "POST",
        "/api/v1/uploads",
        {
            **headers,
            "Upload-Length": "11",
            "Upload-Metadata": "filename dGhyb3VnaCBuZ2lueC50eHQ=",
        },
    )
    location = created.headers["Location"]
    patched = servers.request(
        "PATCH",
        location,
        {
            **headers,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
        b"hello nginx",
    )

    assert created.status == 201
    assert location.startswith(f"http://127.0.0.1:{servers.port}/api/v1/uploads/")
    assert patched.status == 204
    assert patched.headers["Upload-Offset"] == "11"
    file = node(servers.app, patched.headers["Upload-File-Id"])
    assert (file.name, file.size) == ("through nginx.txt", 11)


def share_through(servers, person, name: str, content: bytes) -> Answer:
    """Upload a file through nginx and make a share link of it with the API."""
    file = upload_through(servers, person, name, content)
    body = json.dumps({"file_id": file.id, "expires_in": 3600}).encode()
    return servers.request(
        "POST",
        "/api/v1/shares",
        {**person[1], "Content-Type": "application/json"},
        body,
    )


def test_a_share_link_made_through_nginx_keeps_the_port(people, servers):
    made = share_through(servers, people["alice"], "notes.txt", b"shared\n")

    url = json.loads(made.body)["url"]
    opened = servers.request("GET", url + "/download")

    assert made.status == 201
    assert url.startswith(f"http://127.0.0.1:{servers.port}/s/")
    assert (opened.status, opened.body) == (200, b"shared\n")


def test_the_shipped_access_log_keeps_no_link_token(people, servers):
    made = share_through(servers, people["alice"], "secret.txt", b"secret\n")
    token = json.loads(made.body)["url"].rsplit("/", 1)[1]

    opened = servers.request("GET", f"/s/{token}")  # the link's page
    shipped = servers.shipped_log.read_text()

    assert opened.status == 200
    assert token not in shipped
    assert '"GET" 200 ' in shipped.splitlines()[-1]
    # nginx's request id, which vault logged too: it finds the path there.
    assert shipped.splitlines()[-1].endswith(" " + opened.headers["X-Request-Id"])


@pytest.mark.parametrize("through_nginx", [True, False])
def test_a_forged_host_is_refused(people, servers, through_nginx):
    port = servers.port if through_nginx else servers.vault_port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "GET", "/api/v1/me", headers={**people["alice"][1], "Host": "evil.example"}
        )
        answer = connection.getresponse()
        status, body = answer.status, answer.read()
    finally:
        connection.close()

    assert status == 400
    assert body == b"This server does not answer to the name in the Host header.\n"


def test_nginx_refuses_a_large_body_to_sign_in(servers):
    answer = servers.request(
        "POST",
        "/login",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"x" * (1024 * 1024),
    )

    assert answer.status == 413
    assert b"<center>nginx</center>" in answer.body  # nginx's page, not vault's


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("POST", "/upload", 302),
        ("POST", "/api/v1/files", 401),
        ("PATCH", "/api/v1/uploads/" + "0" * 32, 401),
        ("POST", "/s/unknown/upload", 404),
    ],
)
def test_nginx_lets_large_bodies_through_to_the_upload_routes(
    people, servers, method, path, status
):
    # A stranger's: vault answers, unread, what it answers to strangers.
    headers = {"Content-Type": "application/octet-stream", "Tus-Resumable": "1.0.0"}

    answer = servers.request(method, path, headers, b"x" * (1024 * 1024))

    assert answer.status == status
    assert b"nginx" not in answer.body


def test_an_upload_passes_through_nginx(people, servers):
    file = upload_through(servers, people["alice"], "big.zip", CONTENT)

    assert file.size == len(CONTENT)


def test_nginx_gives_each_request_its_id_and_vault_returns_it(servers):
    answer = servers.request("GET", "/healthz", {"X-Request-Id": "client-chosen-1"})

    # nginx's $request_id replaced the client's: 32 hex digits, kept by vault.
    assert answer.status == 200 and answer.body == b"ok\n"
    request_id = answer.headers["X-Request-Id"]
    assert request_id != "client-chosen-1"
    assert len(request_id) == 32 and int(request_id, 16) >= 0
