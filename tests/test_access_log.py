"""The access log of a real gunicorn, read after every kind of secret URL was used."""

import http.client
import json
import shlex

import pytest

from tests import factories
from tests.servers import (
    free_port,
    gunicorn_environment,
    served,
    start_gunicorn,
    stop,
    wait_until_answering,
)
from tests.test_shares_public import make_link
from tests.tus import TUS, metadata
from vault.extensions import db
from vault.models import User
from vault.redaction import short_hash
from vault.services import admin

pytestmark = pytest.mark.bytes

COOKIE_SECRET = "cookie-secret-5b1e9d"
QUERY_SECRET = "query-secret-77c3a0"


def send(port, method, target, headers=None, body=None):
    """Send exactly `target` (no client normalises it); return status and headers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status, response.headers
    finally:
        connection.close()


@pytest.fixture
def secrets_in_use(app, alice, upload):
    """A share link, a reset link and an API token of Alice's."""
    file = upload(alice, "a.txt", b"shared bytes")
    link = make_link(app, alice, file)
    with app.app_context():
        reset = admin.issue_password_reset(None, db.session.get(User, alice.id))
        token = factories.create_token(alice)
    return {"share": link.token, "reset": reset, "api": token}


def use_every_secret(port, secrets) -> dict[str, str]:
    """Use each kind of secret URL and header; return the tus upload's id too."""
    share, reset, bearer = secrets["share"], secrets["reset"], secrets["api"]
    auth = {"Authorization": f"Bearer {bearer}"}
    assert send(port, "GET", f"/s/{share}")[0] == 200
    assert send(port, "GET", f"/s/{share}/download")[0] == 200
    # Encoded, the path still reaches the link (Flask decodes it first).
    assert send(port, "GET", f"/%73/{share}/download")[0] == 200
    assert send(port, "GET", f"/reset/{reset}")[0] == 200
    status, headers = send(
        port,
        "POST",
        "/api/v1/uploads",
        {
            **auth,
            **TUS,
            "Upload-Length": "5",
            "Upload-Metadata": metadata(filename="t"),
        },
    )
    assert status == 201
    upload_id = headers["Location"].rstrip("/").rpartition("/")[2]
    patch = {
        **auth,
        **TUS,
        "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream",
    }
    assert (
        send(port, "PATCH", f"/api/v1/uploads/{upload_id}", patch, b"hello")[0] == 204
    )
    assert send(port, "GET", "/api/v1/me", auth)[0] == 200
    referred = {
        "Referer": f"http://127.0.0.1:{port}/s/{share}",
        "Cookie": f"session={COOKIE_SECRET}",
        "X-Request-Id": "lb-request-42",
    }
    target = f"/login?next=/s/{share}/download&token={QUERY_SECRET}"
    assert send(port, "GET", target, referred)[0] == 200
    return {**secrets, "upload": upload_id}


def assert_no_secret_in(text: str, used: dict[str, str]) -> None:
    for secret in (*used.values(), COOKIE_SECRET, QUERY_SECRET):
        assert secret not in text


def test_the_shipped_access_log_keeps_no_secret(app, tmp_path, secrets_in_use):
    log = tmp_path / "gunicorn.log"
    with served(app, log) as (port, _):
        used = use_every_secret(port, secrets_in_use)

    text = log.read_text()
    assert_no_secret_in(text, used)
    share, reset = short_hash(used["share"]), short_hash(used["reset"])
    assert f'"GET /s/{share}/download HTTP/1.1" 200' in text
    assert text.count(f"GET /s/{share}/download") == 2  # the encoded one too
    assert f'"GET /reset/{reset} HTTP/1.1" 200' in text
    assert f"PATCH /api/v1/uploads/{short_hash(used['upload'])} HTTP/1.1" in text
    assert f"next=/s/{share}/download&token=[redacted]" in text
    assert f'"http://127.0.0.1:{port}/s/{share}"' in text  # the Referer
    # The incoming request id, on the line of its request.
    [line] = [line for line in text.splitlines() if "lb-request-42" in line]
    assert line.startswith("127.0.0.1 - - [") and "GET /login?" in line


def test_every_access_log_format_keeps_no_secret(app, tmp_path, secrets_in_use):
    # An operator's own format may ask for any header or environ value.
    asked = (
        "%(r)s|%(U)s|%(q)s|%(f)s|%({authorization}i)s|%({cookie}i)s|"
        "%({location}o)s|%({http_authorization}e)s|%({http_cookie}e)s|"
        "%({raw_uri}e)s|%({query_string}e)s|%({path_info}e)s|%({x-request-id}o)s"
    )
    log = tmp_path / "gunicorn.log"
    port = free_port()
    environment = {
        **gunicorn_environment(app, port),
        "GUNICORN_CMD_ARGS": "--access-logformat " + shlex.quote(asked),
    }
    process = start_gunicorn(environment, log)
    try:
        wait_until_answering(port, process, log)
        used = use_every_secret(port, secrets_in_use)
    finally:
        stop(process)

    text = log.read_text()
    assert_no_secret_in(text, used)
    # The request with both: Authorization and Cookie, as header and environ.
    [line] = [line for line in text.splitlines() if line.endswith("|lb-request-42")]
    fields = line.split("|")
    assert fields[4:6] == ["-", "[redacted]"]  # no Authorization; the Cookie
    assert fields[8] == "[redacted]"
    [me] = [line for line in text.splitlines() if line.startswith("GET /api/v1/me ")]
    assert me.split("|")[4] == "[redacted]" and me.split("|")[7] == "[redacted]"


def test_the_json_access_log_is_one_object_a_line(app, tmp_path, secrets_in_use):
    log = tmp_path / "gunicorn.log"
    with served(app, log, log_format="json") as (port, _):
        used = use_every_secret(port, secrets_in_use)
        send(port, "GET", "/login", {"X-Request-Id": "not a sane id"})

    text = log.read_text()
    assert_no_secret_in(text, used)
    entries = [
        json.loads(line) for line in text.splitlines() if line.startswith('{"time"')
    ]
    by_id = {entry["request_id"]: entry for entry in entries}
    login = by_id["lb-request-42"]
    assert login["method"] == "GET" and login["path"] == "/login"
    assert login["status"] == 200
    assert login["query"] == f"next=/s/{short_hash(used['share'])}/download" + (
        "&token=[redacted]"
    )
    assert login["referer"].endswith(f"/s/{short_hash(used['share'])}")
    assert isinstance(login["duration_ms"], float)
    assert "not a sane id" not in text
    assert all(len(entry["request_id"]) > 0 for entry in entries)
