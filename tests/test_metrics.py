"""GET /metrics: Prometheus text, only with VAULT_METRICS_TOKEN and only to it."""

import http.client
import io

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PASSWORD, fresh_app
from tests.helpers import set_quota
from tests.servers import served
from tests.test_shares_public import make_link
from tests.tus import Tus
from vault import create_app
from vault.services import quotas

pytestmark = pytest.mark.bytes

TOKEN = "metrics-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "METRICS_TOKEN": TOKEN}


def samples(text: str) -> dict[tuple, float]:
    """Every sample of a scrape, keyed by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def value(found, name, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def requests_of(found, endpoint, status, method="GET") -> float:
    return value(
        found,
        "vault_http_requests_total",
        endpoint=endpoint,
        method=method,
        status=str(status),
    )


def test_without_a_token_there_is_no_metrics_page(app_config):
    # Before the first account too (every page then leads to the setup form).
    with fresh_app({**app_config, "METRICS_TOKEN": None}) as app:
        client = app.test_client()
        responses = [
            client.get("/metrics", headers=BEARER),
            client.get("/metrics", headers={**BEARER, "Host": "10.1.2.3"}),
        ]

    for response in responses:
        assert response.status_code == 404
        assert b"vault_" not in response.data
        assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token-0123456789abcdef", f"Basic {TOKEN}", TOKEN, "Bearer"],
)
def test_a_missing_or_wrong_token_gets_401(client, header):
    headers = {"Authorization": header} if header else {}

    response = client.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"vault_" not in response.data


@pytest.mark.parametrize("token", ["short", 1234567890123456789])
def test_a_weak_token_is_refused_at_start(app_config, token):
    with pytest.raises(ValueError, match="VAULT_METRICS_TOKEN"):
        create_app({**app_config, "METRICS_TOKEN": token})


def test_requests_are_counted_by_endpoint_never_by_path(client, alice):
    before = scrape(client)
    client.get("/login")
    client.get("/login")
    client.get("/no/such/secret-path-4f2a")

    after = scrape(client)
    text = client.get("/metrics", headers=BEARER).get_data(as_text=True)

    assert (
        requests_of(after, "auth.login", 200) - requests_of(before, "auth.login", 200)
        == 2
    )
    assert (
        requests_of(after, "unmatched", 404) - requests_of(before, "unmatched", 404)
        == 1
    )
    assert "secret-path-4f2a" not in text
    latency = value(
        after, "vault_http_request_duration_seconds_count", endpoint="auth.login"
    )
    assert latency >= 2


def test_a_made_up_method_is_counted_as_other(client, alice):
    before = scrape(client)
    client.open("/login", method="BREW")

    after = scrape(client)

    # No route takes it, so it has no endpoint either.
    assert (
        requests_of(after, "unmatched", 405, "OTHER")
        - requests_of(before, "unmatched", 405, "OTHER")
        == 1
    )


def test_uploaded_and_downloaded_bytes_are_counted(app, client, alice, api_headers):
    headers = api_headers(alice)
    content = b"x" * 5000
    before = scrape(client)

    created = client.post(
        "/api/v1/files", headers=headers, data={"file": (io.BytesIO(content), "a.bin")}
    )
    file_id = created.json["files"][0]["id"]
    download = client.get(f"/api/v1/files/{file_id}/content", headers=headers)
    ranged = client.get(
        f"/api/v1/files/{file_id}/content", headers={**headers, "Range": "bytes=0-99"}
    )

    after = scrape(client)
    assert download.data == content and ranged.status_code == 206
    uploaded = value(after, "vault_upload_bytes_total") - value(
        before, "vault_upload_bytes_total"
    )
    # The whole multipart body: the file and its framing.
    assert uploaded == int(created.request.headers["Content-Length"])
    assert (
        value(after, "vault_download_bytes_total")
        - value(before, "vault_download_bytes_total")
        == 5100
    )
    assert value(after, "vault_uploads_active") == 0


def test_a_tus_upload_counts_its_bytes(client, alice, api_headers):
    tus = Tus(client, api_headers(alice))
    before = scrape(client)

    url = tus.start(10)
    tus.patch(url, b"0123456789", 0)

    after = scrape(client)
    assert (
        value(after, "vault_upload_bytes_total")
        - value(before, "vault_upload_bytes_total")
        == 10
    )


def test_share_downloads_are_counted(app, client, alice, upload):
    file = upload(alice, "a.txt", b"shared")
    link = make_link(app, alice, file)
    before = scrape(client)

    assert client.get(f"{link.url}/download").data == b"shared"
    assert client.head(f"{link.url}/download").status_code == 200

    after = scrape(client)
    assert (
        value(after, "vault_share_downloads_total")
        - value(before, "vault_share_downloads_total")
        == 1
    )


def test_failed_sign_ins_and_lockouts_are_counted(app, client, bob, auth):
    before = scrape(client)
    backoff_after = app.config["LOGIN_BACKOFF_AFTER"]

    for _ in range(backoff_after):
        assert auth.login("bob@example.com", "wrong").status_code == 401

    after = scrape(client)
    assert (
        value(after, "vault_sign_in_failures_total")
        - value(before, "vault_sign_in_failures_total")
        == backoff_after
    )
    assert (
        value(after, "vault_lockouts_total", kind="account")
        - value(before, "vault_lockouts_total", kind="account")
        == 1
    )
    assert auth.login("bob@example.com", PASSWORD).status_code == 429


def test_quota_reservations_are_read_from_the_database(app, client, alice):
    set_quota(app, alice, 10_000_000)
    with app.app_context():
        assert quotas.reserve(alice.id, 4096) is not None

    found = scrape(client)

    assert value(found, "vault_quota_reservations") == 1
    assert value(found, "vault_quota_reserved_bytes") == 4096


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, str]:
    # A new connection each time: the kernel spreads them over the workers.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_every_gunicorn_worker_counts(app, tmp_path, alice):
    with served(app, tmp_path / "gunicorn.log", workers=3, metrics_token=TOKEN) as (
        port,
        _,
    ):
        for _ in range(30):
            assert _get(port, "/login")[0] == 200
        scrapes = [_get(port, "/metrics", BEARER) for _ in range(6)]

    assert {status for status, _ in scrapes} == {200}
    # Whichever worker answers a scrape, it adds up all of them: 30 requests,
    # and the one that told `served` the server was up.
    counts = {requests_of(samples(text), "auth.login", 200) for _, text in scrapes}
    assert counts == {31}


def test_a_post_standing_in_for_a_patch_is_counted_once(client, alice, api_headers):
    tus = Tus(client, api_headers(alice))
    url = tus.start(10)
    before = scrape(client)

    response = client.post(
        url,
        data=b"0123456789",
        headers={
            **tus.headers,
            "X-HTTP-Method-Override": "PATCH",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )

    after = scrape(client)
    assert response.status_code == 204
    assert (
        value(after, "vault_upload_bytes_total")
        - value(before, "vault_upload_bytes_total")
        == 10
    )
    assert value(after, "vault_uploads_active") == 0
