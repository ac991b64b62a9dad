"""Bodies nobody asked for, against a real gunicorn (gunicorn.conf.py, one worker).

Strangers' large bodies leave the worker's memory where it was, and a request
refused before its body was read leaves the client's connection usable.
"""

import os
from pathlib import Path

import pytest
import requests

from tests import factories, servers
from tests.conftest import PASSWORD, base_config, fresh_app
from tests.test_shares_public import make_link
from vault.extensions import db
from vault.models import User

MiB = 1024 * 1024
BIG = b"x" * (50 * MiB)
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An app with alice (a token, a quota) and a password link, under gunicorn."""
    with fresh_app(base_config(tmp_path_factory.mktemp("bodies"))) as app:
        with app.app_context():
            alice = factories.create_user("alice@example.com", PASSWORD)
            token = factories.create_token(alice)
            file = factories.store_file(alice, "notes.txt", b"hello")
            db.session.get(User, alice.id).quota_bytes = 100_000
            db.session.commit()
        link = make_link(app, alice, file, password="open sesame 42")
        log = tmp_path_factory.mktemp("log") / "gunicorn.log"
        with servers.served(app, log, workers=1) as (port, server):
            yield {
                "base": f"http://127.0.0.1:{port}",
                "pid": server.pid,
                "link": link.url,
                "bearer": {"Authorization": f"Bearer {token}"},
            }


def worker_pid(master: int) -> int:
    [pid] = [
        int(entry)
        for entry in os.listdir("/proc")
        if entry.isdigit()
        and Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]
        == str(master)
    ]
    return pid


def peak_rss(pid: int) -> int:
    """The most memory the process ever held (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def strangers(served):
    """(method, path, headers) a stranger may send a body to."""
    return [
        ("POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("POST", "/setup", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("POST", "/api/v1/tokens", {"Content-Type": "application/json"}),
        ("POST", f"{served['link']}/unlock", {}),
        ("POST", "/upload", {"Content-Type": "multipart/form-data; boundary=b"}),
        ("POST", "/api/v1/files", {"Content-Type": "multipart/form-data; boundary=b"}),
        ("PATCH", "/api/v1/uploads/" + "0" * 32, TUS),
        ("POST", "/s/unknown/upload", {}),
    ]


def chunks(size: int):
    for start in range(0, size, MiB):
        yield BIG[start : start + MiB]


def send(session, served, method, path, headers, body):
    return session.request(
        method,
        served["base"] + path,
        headers=headers,
        data=body,
        allow_redirects=False,
        timeout=60,
    )


def test_strangers_bodies_leave_the_workers_memory_alone(served):
    worker = worker_pid(served["pid"])
    # The same requests with small bodies first: every page and error is loaded.
    for method, path, headers in strangers(served):
        send(requests.Session(), served, method, path, headers, b"x" * 100)
    before = peak_rss(worker)

    for method, path, headers in strangers(served):
        for body in (BIG, chunks(len(BIG))):
            send(requests.Session(), served, method, path, headers, body)

    grown = peak_rss(worker) - before
    assert grown < 4 * MiB, f"the worker's peak memory grew by {grown} bytes"


def refusals(served):
    """(expected status, method, path, headers, body) refused before reading."""
    quota = {**served["bearer"], "Content-Type": "multipart/form-data; boundary=b"}
    return [
        (401, "POST", "/api/v1/files", {"Content-Type": "text/plain"}, MiB),
        (413, "POST", "/login", {"Content-Type": "text/plain"}, MiB),
        (413, "POST", "/api/v1/tokens", {"Content-Type": "application/json"}, None),
        (507, "POST", "/api/v1/files", quota, 3 * MiB),
        (415, "PATCH", "/api/v1/uploads/x", {**served["bearer"], **TUS}, MiB),
    ]


def test_a_refused_request_leaves_the_connection_usable(served):
    session = requests.Session()
    for _ in range(5):
        for status, method, path, headers, size in refusals(served):
            body = chunks(MiB) if size is None else b"x" * size

            refused = send(session, served, method, path, headers, body)
            after = session.get(served["base"] + "/api/v1/me", headers=served["bearer"])

            assert refused.status_code == status, (path, refused.text)
            assert after.status_code == 200
            assert after.json()["email"] == "alice@example.com"
