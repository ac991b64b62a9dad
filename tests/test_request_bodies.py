"""Request bodies: only upload routes take large ones, and only from someone known.

Every other route refuses a body over VAULT_MAX_BODY_BYTES with 413 before
reading it; a chunked body, whose size nothing announces, is counted as it is
read. tests/test_request_bodies_server.py checks the same under gunicorn.
"""

import io
import json
import re

import pytest

from tests.conftest import PASSWORD
from tests.helpers import SeekableBody, error_of
from tests.test_shares_public import make_link

pytestmark = pytest.mark.bytes

CAP = 64 * 1024
UPLOAD_ROUTES = {
    "files.upload",
    "api.upload_files",
    "api.tus.create_upload",
    "api.tus.append_to_upload",
    "api.tus.override_upload_method",
    "public.upload",
}
CHUNKED = {
    "headers": {"Transfer-Encoding": "chunked"},
    "environ_overrides": {"wsgi.input_terminated": True},
}


class RecordedBody(SeekableBody):
    """A body of `length` bytes of `filler` that remembers how far it was read."""

    def __init__(self, length: int, filler: bytes = b"x"):
        self.length, self.position, self.filler = length, 0, filler

    def readinto(self, buffer):
        count = max(0, min(len(buffer), self.length - self.position))
        buffer[:count] = self.filler * count
        self.position += count
        return count


def every_route(app):
    """(endpoint, method, url) for every route and method of the app."""
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<[^>]+>", "0" * 32, rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


@pytest.mark.parametrize("signed_in", [False, True])
def test_only_upload_routes_take_a_body_over_the_cap(app, client, request, signed_in):
    if signed_in:
        request.getfixturevalue("as_alice")  # an administrator: every page opens
    taking = set()
    for endpoint, method, url in every_route(app):
        response = client.open(
            url,
            method=method,
            data=b"x" * (CAP + 1),
            content_type="application/x-www-form-urlencoded",
        )
        if response.status_code != 413:
            taking.add(endpoint)
        else:
            assert "larger than the 65.5 kB this page accepts" in response.text

    assert taking == UPLOAD_ROUTES


def test_sign_in_with_a_body_over_the_cap_is_refused_unread(client, alice):
    body = RecordedBody(50 * 1024 * 1024)

    response = client.post(
        "/login", input_stream=body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 413
    assert "The request is larger than the 65.5 kB this page accepts." in (
        response.text
    )
    assert body.position == 0


def test_a_chunked_body_is_counted_as_it_is_read(client, alice):
    body = RecordedBody(50 * 1024 * 1024)

    response = client.post(
        "/login",
        input_stream=body,
        content_type="application/x-www-form-urlencoded",
        **CHUNKED,
    )

    assert response.status_code == 413
    assert body.position <= CAP + 1


def token_request(length: int) -> bytes:
    """A valid token request padded with spaces to `length` bytes."""
    request = json.dumps(
        {"email": "alice@example.com", "password": PASSWORD, "name": "cli"}
    ).encode()
    return request + b" " * (length - len(request))


def test_a_chunked_body_of_exactly_the_cap_is_taken(client, alice):
    response = client.post(
        "/api/v1/tokens",
        input_stream=io.BytesIO(token_request(CAP)),
        content_type="application/json",
        **CHUNKED,
    )

    assert response.status_code == 201
    assert response.get_json()["name"] == "cli"


def test_a_chunked_body_one_byte_over_the_cap_is_refused(client, alice):
    response = client.post(
        "/api/v1/tokens",
        input_stream=io.BytesIO(token_request(CAP + 1)),
        content_type="application/json",
        **CHUNKED,
    )

    error = error_of(response, 413, "too_large")
    assert error["message"] == (
        "The request is larger than the 65.5 kB this page accepts."
    )


STRANGERS = [
    ("POST", "/upload", {}, 302),
    ("POST", "/api/v1/files", {}, 401),
    ("POST", "/api/v1/files", {"Authorization": "Bearer forged"}, 401),
    ("POST", "/api/v1/uploads", {"Tus-Resumable": "1.0.0"}, 401),
    ("PATCH", "/api/v1/uploads/" + "0" * 32, {"Tus-Resumable": "1.0.0"}, 401),
    ("POST", "/api/v1/uploads/" + "0" * 32, {"Tus-Resumable": "1.0.0"}, 401),
    ("POST", "/s/unknown-token/upload", {}, 404),
    ("POST", "<a download link>/upload", {}, 404),
]


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
@pytest.mark.parametrize("method, url, headers, status", STRANGERS)
def test_an_upload_route_answers_a_stranger_without_reading_the_body(
    app, client, alice, upload, method, url, headers, status, chunked
):
    if url.startswith("<a download link>"):
        link = make_link(app, alice, upload(alice, "notes.txt"))
        url = url.replace("<a download link>", link.url)
    # Below the upload limit (8 MiB in tests): nothing but the caller is wrong.
    body = RecordedBody(4 * 1024 * 1024)
    options = CHUNKED if chunked else {}

    response = client.open(
        url,
        method=method,
        input_stream=body,
        content_type="application/offset+octet-stream",
        headers={**headers, **options.get("headers", {})},
        environ_overrides=options.get("environ_overrides", {}),
    )

    assert response.status_code == status
    assert body.position == 0


class TestConfiguredCap:
    @pytest.fixture
    def app_config(self, app_config):
        app_config["MAX_BODY_BYTES"] = "1 KiB"
        return app_config

    def test_the_cap_is_read_from_the_configuration(self, client, alice):
        response = client.post(
            "/api/v1/tokens",
            data=token_request(1025),
            content_type="application/json",
        )

        error = error_of(response, 413, "too_large")
        assert error["message"] == (
            "The request is larger than the 1.0 kB this page accepts."
        )
