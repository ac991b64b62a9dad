"""Where sign-in sends the browser next: only ever back to this site."""

from urllib.parse import urljoin, urlsplit

import pytest

from tests.conftest import PASSWORD
from vault.redirects import local_path

ORIGIN = "http://vault.test/login"

# Each of these takes a browser to another host, or is not plainly a path.
LEAVING = [
    "//evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "\\/evil.com",
    "/\\/evil.com",
    "///evil.com",
    "////evil.com",
    "https:evil.com",
    "http://evil.com",
    "HTTPS://evil.com",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//localhost@evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "/\r\n/evil.com",
    " //evil.com",
    "//evil.com\x1f",
    # Percent-encoded slashes and backslashes: decoded once, they leave.
    "/%2F%2Fevil.com",
    "/%2f/evil.com",
    "/%5C%5Cevil.com",
    "/%5c/evil.com",
    "/%09/evil.com",
    # A relative path is not what any page of ours sends.
    "evil.com",
    "files/abc",
    "",
]

STAYING = [
    ("/", "/"),
    ("/files/abc?x=1", "/files/abc?x=1"),
    ("/account#tokens", "/account#tokens"),
    ("/files/a%20b?next=//evil.com", "/files/a%20b?next=//evil.com"),
    # What a browser would follow anyway, sent the way it reads it.
    ("  /account ", "/account"),
    ("/acc\tount", "/account"),
]


@pytest.mark.parametrize("target", LEAVING)
def test_targets_that_leave_the_site_are_refused(target):
    assert local_path(target) is None


def test_a_next_with_a_nul_is_refused_before_anything_else(client, auth, alice):
    # No honest link carries NUL; the request is refused whole (vault/guards.py).
    response = sign_in_with_next(client, auth, "\x00//evil.com")

    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize(("target", "path"), STAYING)
def test_local_paths_are_kept(target, path):
    assert local_path(target) == path
    # And a browser resolves the result to our own origin.
    assert urlsplit(urljoin(ORIGIN, path)).netloc == "vault.test"


def sign_in_with_next(client, auth, target):
    return client.post(
        "/login",
        query_string={"next": target},
        data={
            "email": "alice@example.com",
            "password": PASSWORD,
            "csrf_token": auth.csrf_token(),
        },
    )


@pytest.mark.parametrize("target", LEAVING)
def test_sign_in_never_sends_the_browser_elsewhere(client, auth, alice, target):
    response = sign_in_with_next(client, auth, target)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(("target", "path"), STAYING)
def test_sign_in_goes_back_to_the_page_that_asked(client, auth, alice, target, path):
    response = sign_in_with_next(client, auth, target)

    assert response.status_code == 302
    assert response.headers["Location"] == path
