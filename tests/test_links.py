"""Links we hand out are built from VAULT_BASE_URL, else from a trusted Host.

A share URL, a tus Location or a password-reset link is copied, stored and
followed later: it must never carry a host name a client chose.
"""

import pytest

from tests.conftest import base_config
from tests.tus import Tus
from vault import create_app, links
from vault.links import LOOPBACK_HOSTS


@pytest.fixture
def file_id(app, alice, upload):
    return upload(alice, "notes.txt").id


def share(client, headers, file_id, host=None):
    extra = {"Host": host} if host else {}
    return client.post(
        "/api/v1/shares",
        json={"file_id": file_id, "expires_in": 3600},
        headers={**headers, **extra},
    )


@pytest.mark.parametrize(
    ("base_url", "prefix"),
    [
        ("https://vault.example.com", "https://vault.example.com"),
        ("https://vault.example.com:8443/", "https://vault.example.com:8443"),
        ("http://10.0.0.5:8080/vault", "http://10.0.0.5:8080/vault"),
    ],
)
def test_links_come_from_the_base_url_whatever_the_host(
    app, client, alice, api_headers, file_id, base_url, prefix
):
    app.config["BASE_URL"] = links.check_base_url(base_url)
    headers = api_headers(alice)

    url = share(client, headers, file_id).get_json()["url"]
    location = Tus(client, headers).start(5)

    assert url.startswith(f"{prefix}/s/")
    assert location.startswith(f"{prefix}/api/v1/uploads/")


def test_without_a_base_url_links_keep_the_requests_host_and_port(
    client, alice, api_headers, file_id
):
    headers = {**api_headers(alice), "Host": "localhost:8443"}

    url = share(client, headers, file_id).get_json()["url"]
    location = Tus(client, headers).start(5)

    assert url.startswith("http://localhost:8443/s/")
    assert location.startswith("http://localhost:8443/api/v1/uploads/")


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8443", "localhost.evil"]
)
def test_a_forged_host_is_refused_and_nothing_is_made(
    app, client, alice, api_headers, file_id, host
):
    headers = api_headers(alice)

    shared = share(client, headers, file_id, host=host)
    created = Tus(client, {**headers, "Host": host}).create(5)

    for response in (shared, created):
        assert response.status_code == 400
        assert response.get_data(as_text=True) == (
            "This server does not answer to the name in the Host header.\n"
        )
    assert share(client, headers, file_id).status_code == 201


def test_by_default_only_this_machine_and_the_base_urls_host_are_trusted(app, tmp_path):
    config = base_config(tmp_path)
    del config["TRUSTED_HOSTS"]

    plain = create_app(config)
    based = create_app({**config, "BASE_URL": "https://vault.example.com/"})
    listed = create_app({**config, "TRUSTED_HOSTS": "a.example, .b.example"})

    assert plain.config["TRUSTED_HOSTS"] == LOOPBACK_HOSTS
    assert plain.config["BASE_URL"] is None
    assert based.config["TRUSTED_HOSTS"] == [*LOOPBACK_HOSTS, "vault.example.com"]
    assert based.config["BASE_URL"] == "https://vault.example.com"
    assert listed.config["TRUSTED_HOSTS"] == ["a.example", ".b.example"]
    # `make run` on a fresh machine: its own addresses answer (with the
    # first-run redirect), no other name.
    app.config["TRUSTED_HOSTS"] = plain.config["TRUSTED_HOSTS"]
    client = app.test_client()
    for host, status in [
        ("127.0.0.1:5000", 302),
        ("localhost:5000", 302),
        ("vault.example.com", 400),
    ]:
        assert client.get("/login", headers={"Host": host}).status_code == status


@pytest.mark.parametrize(
    "base_url",
    [
        "vault.example.com",
        "ftp://vault.example.com",
        "https://",
        "https://a:b@x.example",
        "https://x.example:99999",
        "https://x.example/?q=1",
    ],
)
def test_a_bad_base_url_stops_the_start_with_a_clear_error(tmp_path, base_url):
    with pytest.raises(ValueError, match="VAULT_BASE_URL must be"):
        create_app({**base_config(tmp_path), "BASE_URL": base_url})
