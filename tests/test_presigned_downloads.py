"""Downloads from S3 sent to the bucket: VAULT_S3_PRESIGNED_DOWNLOADS.

Every test here keeps its bytes in a bucket of the test S3 server (moto,
tests/s3server.py), whatever VAULT_TEST_STORAGE says, and follows the
redirect with a real HTTP client, as a browser would.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import base_config
from tests.factories import image_bytes
from tests.s3server import new_bucket, s3_endpoint
from tests.servers import served
from tests.test_shares_public import SHARE_HEADERS, link_row, log_of, make_link
from vault import create_app
from vault.services.share_downloads import UNIT, cost
from vault.storage import get_storage

CONTENT = bytes(range(256)) * 1200  # 300 KiB, not text
SANDBOX = "sandbox; frame-ancestors 'self'"
NAME = 'Grüße aus 東京 "2026".bin'
# RFC 6266: an ASCII stand-in, then the exact name in UTF-8.
NAME_DISPOSITION = (
    'attachment; filename="Gr__e aus __ _2026_.bin"; '
    "filename*=UTF-8''Gr%C3%BC%C3%9Fe%20aus%20%E6%9D%B1%E4%BA%AC%20%222026%22.bin"
)


def s3_config(tmp_path, **settings) -> dict:
    return {
        **base_config(tmp_path),
        "STORAGE_URL": f"s3://{new_bucket()}/vault",
        **settings,
    }


@pytest.fixture
def app_config(tmp_path):
    return s3_config(tmp_path, S3_PRESIGNED_DOWNLOADS=True)


def assert_sent_to_bucket(response) -> str:
    """Assert an empty 302 to the test S3 server; return where it points."""
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(s3_endpoint() + "/")
    assert response.data == b""
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "ETag" not in response.headers
    return location


def fetch(url: str, **headers) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10, allow_redirects=False)


def get_objects_on(app) -> list[str]:
    """Record every GetObject the app's store sends from now on."""
    calls = []
    with app.app_context():
        events = get_storage().client.meta.events
    events.register("before-call.s3.GetObject", lambda **_: calls.append("get"))
    return calls


# Owners and the API


def test_an_owner_download_redirects_to_the_bytes_under_the_exact_name(
    app, client, as_alice, upload
):
    file = upload(as_alice, NAME, CONTENT)

    response = client.get(f"/files/{file.id}/download")

    location = assert_sent_to_bucket(response)
    assert response.headers["Cache-Control"] == "no-store"
    answer = fetch(location)
    assert answer.status_code == 200
    assert answer.content == CONTENT
    assert hashlib.sha256(answer.content).hexdigest() == file.sha256
    assert answer.headers["Content-Disposition"] == NAME_DISPOSITION
    assert answer.headers["Content-Type"] == file.content_type
    assert answer.headers["Cache-Control"] == "private, no-store"


def test_a_text_download_keeps_its_charset(app, client, as_alice, upload):
    file = upload(as_alice, "notes.txt", "héllo, bucket\n".encode())

    location = assert_sent_to_bucket(client.get(f"/files/{file.id}/download"))

    answer = fetch(location)
    assert answer.content == "héllo, bucket\n".encode()
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_the_bucket_answers_range_itself(app, client, as_alice, upload):
    file = upload(as_alice, "film.bin", CONTENT)

    response = client.get(
        f"/files/{file.id}/download", headers={"Range": "bytes=1000-1999"}
    )

    answer = fetch(assert_sent_to_bucket(response), Range="bytes=1000-1999")
    assert answer.status_code == 206
    assert answer.content == CONTENT[1000:2000]
    assert answer.headers["Content-Range"] == f"bytes 1000-1999/{len(CONTENT)}"


def test_an_api_download_redirects_too(app, client, alice, upload, api_headers):
    file = upload(alice, NAME, CONTENT)

    response = client.get(
        f"/api/v1/files/{file.id}/content", headers=api_headers(alice)
    )

    answer = fetch(assert_sent_to_bucket(response))
    assert answer.content == CONTENT
    assert answer.headers["Content-Disposition"] == NAME_DISPOSITION


def s3_accepts(url: str, at: datetime) -> bool:
    """Judge a presigned GET as S3 does: its signature, then its lifetime.

    moto serves any URL, lapsed or altered (it checks no query signature), so
    the tests check with botocore's own SigV4 signer and the test secret.
    """
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    auth = {name: query.pop(name) for name in list(query) if name.startswith("X-")}
    signed_at = datetime.strptime(auth["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    signer = S3SigV4QueryAuth(
        Credentials("test", "test"),
        "s3",
        "us-east-1",
        expires=int(auth["X-Amz-Expires"]),
    )
    request = AWSRequest("GET", parts._replace(query=urlencode(query)).geturl())
    request.context["timestamp"] = auth["X-Amz-Date"]
    signer._modify_request_before_signing(request)
    string_to_sign = signer.string_to_sign(request, signer.canonical_request(request))
    signature = signer.signature(string_to_sign, request)
    lapses = signed_at.replace(tzinfo=UTC) + timedelta(seconds=signer._expires)
    return signature == auth["X-Amz-Signature"] and at <= lapses


def test_the_url_lapses_after_the_setting_and_cannot_be_stretched(
    app, client, as_alice, upload
):
    app.config["S3_PRESIGNED_EXPIRY_SECONDS"] = 5
    file = upload(as_alice, NAME, CONTENT)
    before = datetime.now(UTC).replace(microsecond=0)

    location = assert_sent_to_bucket(client.get(f"/files/{file.id}/download"))

    after = datetime.now(UTC)
    assert s3_accepts(location, after)
    assert s3_accepts(location, before + timedelta(seconds=5))
    assert not s3_accepts(location, after + timedelta(seconds=6))
    stretched = location.replace("X-Amz-Expires=5", "X-Amz-Expires=3600")
    assert stretched != location
    assert not s3_accepts(stretched, after)
    renamed = location.replace("filename%2A", "filename%2B")
    assert renamed != location
    assert not s3_accepts(renamed, after)
    assert fetch(location).content == CONTENT


def test_someone_elses_file_is_not_found_and_not_signed(
    client, alice, bob, upload, auth
):
    file = upload(alice, "film.bin", CONTENT)
    auth.login("bob@example.com")

    response = client.get(f"/files/{file.id}/download")

    assert response.status_code == 404
    assert "Location" not in response.headers


def test_a_current_copy_gets_304_not_a_redirect(client, as_alice, upload):
    file = upload(as_alice, "film.bin", CONTENT)
    url = f"/files/{file.id}/download"
    etag = client.head(url).headers["ETag"]

    response = client.get(url, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert "Location" not in response.headers


@pytest.mark.parametrize("presigned", [True, False])
def test_head_answers_from_the_database_and_opens_no_object(
    app, client, as_alice, upload, presigned
):
    # A presigned URL is signed for GET alone, and HEAD needs no bytes: the
    # app answers it, and asks the bucket for nothing.
    app.config["S3_PRESIGNED_DOWNLOADS"] = presigned
    file = upload(as_alice, NAME, CONTENT)
    gets = get_objects_on(app)

    response = client.head(f"/files/{file.id}/download")

    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(CONTENT))
    assert response.headers["Content-Disposition"] == NAME_DISPOSITION
    assert response.headers["ETag"] == f'"{file.sha256}"'
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "Location" not in response.headers
    assert gets == []


def test_through_gunicorn_a_client_follows_to_the_bytes(
    app, tmp_path, alice, upload, api_headers
):
    file = upload(alice, NAME, CONTENT)
    link = make_link(app, alice, file)
    headers = api_headers(alice)

    with served(
        app, tmp_path / "gunicorn.log", workers=1, s3_presigned_downloads="true"
    ) as (port, _):
        base = f"http://127.0.0.1:{port}"
        owner = requests.get(
            f"{base}/api/v1/files/{file.id}/content", headers=headers, timeout=30
        )
        visitor = requests.get(base + f"{link.url}/download", timeout=30)
        head = requests.head(
            f"{base}/api/v1/files/{file.id}/content", headers=headers, timeout=30
        )

    for answer in (owner, visitor):
        assert [step.status_code for step in answer.history] == [302]
        assert answer.url.startswith(s3_endpoint() + "/")
        assert answer.status_code == 200
        assert hashlib.sha256(answer.content).hexdigest() == file.sha256
        assert answer.headers["Content-Disposition"] == NAME_DISPOSITION
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Length"] == str(len(CONTENT))
    assert link_row(app, link).download_units == UNIT


# What stays with the app


def test_a_preview_streams_through_the_app_with_our_csp(app, client, as_alice, upload):
    picture = image_bytes(size=(40, 30))
    file = upload(as_alice, "beach.png", picture)

    response = client.get(f"/files/{file.id}/view")

    assert response.status_code == 200
    assert response.data == picture
    assert "Location" not in response.headers
    assert response.headers["Content-Security-Policy"] == SANDBOX
    assert response.headers["Content-Disposition"].startswith("inline;")


def test_a_thumbnail_streams_through_the_app(app, client, as_alice, upload):
    file = upload(as_alice, "beach.png", image_bytes(size=(40, 30)))

    response = client.get(f"/files/{file.id}/thumbnail")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/webp"
    assert response.data.startswith(b"RIFF")
    assert "Location" not in response.headers
    assert response.headers["Content-Security-Policy"] == SANDBOX


def test_zips_are_made_by_the_app(client, as_alice, upload, make_folder):
    folder = make_folder(as_alice, "Holiday")
    upload(as_alice, "film.bin", CONTENT, folder_id=folder.id)

    response = client.get(f"/folders/{folder.id}/zip")

    assert response.status_code == 200
    assert response.data.startswith(b"PK")
    assert "Location" not in response.headers


def test_off_by_default_and_a_minute_long_when_on(tmp_path):
    app = create_app(s3_config(tmp_path))

    assert app.config["S3_PRESIGNED_DOWNLOADS"] is False
    assert app.config["S3_PRESIGNED_EXPIRY_SECONDS"] == 60


def test_off_the_bytes_come_through_the_app(app, client, as_alice, upload):
    app.config["S3_PRESIGNED_DOWNLOADS"] = False
    file = upload(as_alice, NAME, CONTENT)

    response = client.get(f"/files/{file.id}/download")

    assert response.status_code == 200
    assert response.data == CONTENT
    assert response.headers["Content-Disposition"] == NAME_DISPOSITION
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "Location" not in response.headers


# Share links: counted as a proxy hand-off is


def test_a_link_download_is_counted_once_when_sent_to_the_bucket(
    app, client, alice, upload
):
    file = upload(alice, NAME, CONTENT)
    link = make_link(app, alice, file)

    response = client.get(f"{link.url}/download")

    location = assert_sent_to_bucket(response)
    for name, value in SHARE_HEADERS.items():
        assert response.headers[name] == value
    # Counted on sending the visitor on: what the bucket sends is out of
    # sight, so nothing is given back (the link has no limit).
    assert link_row(app, link).download_units == UNIT
    assert [entry.outcome for entry in log_of(app, link)] == ["download"]
    answer = fetch(location)
    assert answer.content == CONTENT
    assert answer.headers["Content-Disposition"] == NAME_DISPOSITION
    assert link_row(app, link).download_units == UNIT


def test_a_link_range_is_charged_its_part(app, client, alice, upload):
    file = upload(alice, "film.bin", CONTENT)
    link = make_link(app, alice, file)

    response = client.get(f"{link.url}/download", headers={"Range": "bytes=0-9"})

    assert_sent_to_bucket(response)
    assert link_row(app, link).download_units == cost(0, 10, len(CONTENT))


def test_a_link_with_a_limit_streams_through_the_app_and_the_limit_is_exact(
    app, client, alice, upload
):
    file = upload(alice, "film.bin", CONTENT)
    link = make_link(app, alice, file, max_downloads=1)
    url = f"{link.url}/download"
    half = len(CONTENT) // 2

    first = client.get(url, headers={"Range": f"bytes=0-{half - 1}"})
    rest = client.get(url, headers={"Range": f"bytes={half}-"})
    again = client.get(url)

    assert (first.status_code, rest.status_code) == (206, 206)
    assert first.data + rest.data == CONTENT
    for response in (first, rest, again):
        assert "Location" not in response.headers
    assert again.status_code == 410
    assert link_row(app, link).download_units == UNIT


def test_a_used_up_link_signs_nothing(app, client, alice, upload):
    file = upload(alice, "film.bin", CONTENT)
    link = make_link(app, alice, file, max_downloads=1)
    client.get(f"{link.url}/download")

    response = client.get(f"{link.url}/download")

    assert response.status_code == 410
    assert "Location" not in response.headers


def test_a_link_preview_streams_with_our_csp(app, client, alice, upload):
    picture = image_bytes(size=(40, 30))
    file = upload(alice, "beach.png", picture)
    link = make_link(app, alice, file)

    response = client.get(f"{link.url}/files/{file.id}/view")

    assert response.status_code == 200
    assert response.data == picture
    assert response.headers["Content-Security-Policy"] == SANDBOX
    assert "Location" not in response.headers


def test_a_link_head_is_free_and_opens_no_object(app, client, alice, upload):
    file = upload(alice, "film.bin", CONTENT)
    link = make_link(app, alice, file)
    gets = get_objects_on(app)

    response = client.head(f"{link.url}/download")

    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(CONTENT))
    assert gets == []
    assert link_row(app, link).download_units == 0


# Configuration


def test_it_needs_a_store_that_signs(tmp_path):
    config = {**base_config(tmp_path), "S3_PRESIGNED_DOWNLOADS": True}
    config.pop("STORAGE_URL", None)
    config["STORAGE_DIR"] = str(tmp_path / "storage")

    with pytest.raises(ValueError, match="VAULT_S3_PRESIGNED_DOWNLOADS needs a store"):
        create_app(config)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"S3_PRESIGNED_DOWNLOADS": "yes"}, "VAULT_S3_PRESIGNED_DOWNLOADS"),
        ({"S3_PRESIGNED_EXPIRY_SECONDS": 0}, "VAULT_S3_PRESIGNED_EXPIRY_SECONDS"),
        ({"S3_PRESIGNED_EXPIRY_SECONDS": "60"}, "VAULT_S3_PRESIGNED_EXPIRY_SECONDS"),
        ({"S3_PRESIGNED_EXPIRY_SECONDS": 1.5}, "VAULT_S3_PRESIGNED_EXPIRY_SECONDS"),
        (
            {"S3_PRESIGNED_EXPIRY_SECONDS": 7 * 24 * 3600 + 1},
            "VAULT_S3_PRESIGNED_EXPIRY_SECONDS",
        ),
    ],
)
def test_bad_settings_stop_the_app_from_starting(tmp_path, settings, message):
    with pytest.raises(ValueError, match=message):
        create_app(s3_config(tmp_path, **settings))


def test_the_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VAULT_S3_PRESIGNED_DOWNLOADS", "true")
    monkeypatch.setenv("VAULT_S3_PRESIGNED_EXPIRY_SECONDS", "30")

    app = create_app(s3_config(tmp_path))

    assert app.config["S3_PRESIGNED_DOWNLOADS"] is True
    assert app.config["S3_PRESIGNED_EXPIRY_SECONDS"] == 30
