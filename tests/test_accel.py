"""Downloads handed to the proxy in front: X-Accel-Redirect (nginx), X-Sendfile.

vault still checks access and writes every header; the proxy sends the bytes
and answers Range. tests/test_nginx.py runs the same through a real nginx.
"""

import os

import pytest

from tests.conftest import base_config
from tests.factories import image_bytes
from tests.helpers import node
from tests.test_shares_public import (
    SHARE_HEADERS,
    link_row,
    log_of,
    make_link,
)
from vault import create_app
from vault.services.share_downloads import UNIT, cost

# Hands a local file to the server or the proxy, or fills a local disk.
pytestmark = pytest.mark.local_storage

CONTENT = b"hello, proxy\n" * 100
SANDBOX = "sandbox; frame-ancestors 'self'"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "ACCEL_REDIRECT": "/protected/"}


def assert_handed_over(response, key: str) -> None:
    """Assert an empty 200 that names the blob, under our protective headers."""
    assert response.status_code == 200
    assert response.headers["X-Accel-Redirect"] == f"/protected/{key}"
    assert response.data == b""
    assert "X-Sendfile" not in response.headers
    assert "Content-Range" not in response.headers
    # nginx adds its own; two would be one too many.
    assert "Accept-Ranges" not in response.headers
    assert response.headers["Content-Security-Policy"] == SANDBOX
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["ETag"]
    assert response.headers["Last-Modified"]


def test_an_owner_download_is_handed_to_nginx(app, client, as_alice, upload):
    file = upload(as_alice, "résumé.txt", CONTENT)

    response = client.get(f"/files/{file.id}/download")

    assert_handed_over(response, file.storage_key)
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    )
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["ETag"] == f'"{file.sha256}"'
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_an_inline_view_is_handed_over_inline(client, as_alice, upload):
    file = upload(as_alice, "notes.txt", CONTENT)

    response = client.get(f"/files/{file.id}/view")

    assert_handed_over(response, file.storage_key)
    assert response.headers["Content-Disposition"].startswith("inline;")


def test_api_content_is_handed_to_nginx(client, alice, upload, api_headers):
    file = upload(alice, "notes.txt", CONTENT)

    response = client.get(
        f"/api/v1/files/{file.id}/content", headers=api_headers(alice)
    )

    assert_handed_over(response, file.storage_key)
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_an_owner_thumbnail_is_handed_to_nginx(app, client, as_alice, upload):
    file = upload(as_alice, "beach.png", image_bytes(size=(40, 30)))

    response = client.get(f"/files/{file.id}/thumbnail")

    assert_handed_over(response, node(app, file.id).thumbnail_key)
    assert response.headers["Content-Type"] == "image/webp"
    assert response.headers["Content-Disposition"].startswith("inline;")


def test_someone_elses_file_is_not_found_and_not_handed_over(
    client, alice, bob, upload, auth, api_headers
):
    file = upload(alice, "notes.txt", CONTENT)
    auth.login("bob@example.com")

    responses = [
        client.get(f"/files/{file.id}/download"),
        client.get(f"/files/{file.id}/view"),
        client.get(f"/api/v1/files/{file.id}/content", headers=api_headers(bob)),
    ]

    for response in responses:
        assert response.status_code == 404
        assert "X-Accel-Redirect" not in response.headers


def test_anonymous_is_sent_to_sign_in_not_handed_over(client, alice, upload):
    file = upload(alice, "notes.txt", CONTENT)

    response = client.get(f"/files/{file.id}/download")

    assert response.status_code == 302
    assert "X-Accel-Redirect" not in response.headers


@pytest.mark.parametrize(
    "range_header", ["bytes=0-9", "bytes=-5", "bytes=100000-", "bytes=0-1,5-6"]
)
def test_range_requests_are_left_to_nginx(client, as_alice, upload, range_header):
    file = upload(as_alice, "notes.txt", CONTENT)

    response = client.get(f"/files/{file.id}/download", headers={"Range": range_header})

    assert_handed_over(response, file.storage_key)


def test_a_current_copy_gets_304_from_vault(client, as_alice, upload):
    file = upload(as_alice, "notes.txt", CONTENT)
    url = f"/files/{file.id}/download"
    etag = client.get(url).headers["ETag"]

    response = client.get(url, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert "X-Accel-Redirect" not in response.headers


def test_a_head_request_is_handed_over_too(client, as_alice, upload):
    file = upload(as_alice, "notes.txt", CONTENT)

    response = client.head(f"/files/{file.id}/download")

    assert_handed_over(response, file.storage_key)


# Share links


def test_a_share_link_download_is_handed_over_and_counted(app, client, alice, upload):
    file = upload(alice, "notes.txt", CONTENT)
    link = make_link(app, alice, file)

    response = client.get(f"{link.url}/download")

    assert_handed_over(response, file.storage_key)
    for name, value in SHARE_HEADERS.items():
        assert response.headers[name] == value
    # Counted on handing over: vault cannot see an early stop through the proxy,
    # so nothing is given back (the link has no limit; its count is for show).
    assert link_row(app, link).download_units == 1 * UNIT
    assert [entry.outcome for entry in log_of(app, link)] == ["download"]


def test_a_link_with_a_limit_is_sent_by_vault_not_handed_over(
    app, client, alice, upload
):
    file = upload(alice, "notes.txt", CONTENT)
    link = make_link(app, alice, file, max_downloads=1)
    url = f"{link.url}/download"

    part = client.get(url, headers={"Range": "bytes=0-9"})
    rest = client.get(url, headers={"Range": "bytes=10-"})
    again = client.get(url, headers={"Range": "bytes=0-9"})

    assert "X-Accel-Redirect" not in part.headers
    assert (part.status_code, part.data) == (206, CONTENT[:10])
    assert (rest.status_code, rest.data) == (206, CONTENT[10:])
    assert again.status_code == 410
    assert link_row(app, link).download_units == 1 * UNIT


def test_share_link_parts_are_charged_as_parts_and_head_is_free(
    app, client, alice, upload
):
    file = upload(alice, "clip.mp4", CONTENT)
    link = make_link(app, alice, file)
    url = f"{link.url}/download"
    size = len(CONTENT)

    responses = [
        client.get(url, headers={"Range": "bytes=100-199"}),
        client.get(url, headers={"Range": "bytes=-10"}),
        client.get(url, headers={"Range": f"bytes={size}-"}),  # nginx: 416
        client.head(url),
    ]

    for response in responses:
        assert_handed_over(response, file.storage_key)
    assert link_row(app, link).download_units == cost(100, 200, size) + cost(
        size - 10, size, size
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Range": "bytes=0-"},
        {"Range": f"bytes=-{len(CONTENT) + 1}"},
        {"Range": "bytes=0-1,5-6"},  # nginx (max_ranges 1) sends it all
        {"Range": "bytes=0-9", "If-Range": '"old"'},
        {"Range": "bytes=0-9", "If-Range": "Thu, 01 Jan 2099 00:00:00 GMT"},
    ],
)
def test_share_link_ranges_that_get_the_whole_file_count(
    app, client, alice, upload, headers
):
    file = upload(alice, "clip.mp4", CONTENT)
    link = make_link(app, alice, file)

    response = client.get(f"{link.url}/download", headers=headers)

    assert_handed_over(response, file.storage_key)
    assert link_row(app, link).download_units == 1 * UNIT


def test_a_used_up_link_is_not_handed_over(app, client, alice, upload):
    file = upload(alice, "notes.txt", CONTENT)
    link = make_link(app, alice, file, max_downloads=1)
    client.get(f"{link.url}/download")

    response = client.get(f"{link.url}/download")

    assert response.status_code == 410
    assert "X-Accel-Redirect" not in response.headers
    assert link_row(app, link).download_units == 1 * UNIT


def test_a_share_link_thumbnail_is_handed_over(app, client, alice, upload, make_folder):
    folder = make_folder(alice, "Holiday")
    beach = upload(alice, "beach.png", image_bytes(), folder_id=folder.id)
    link = make_link(app, alice, folder)

    response = client.get(f"{link.url}/files/{beach.id}/thumbnail")

    assert_handed_over(response, node(app, beach.id).thumbnail_key)
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_zips_are_made_by_vault_not_handed_over(
    app, client, alice, upload, make_folder
):
    folder = make_folder(alice, "Holiday")
    upload(alice, "plan.md", b"# plan\n", folder_id=folder.id)
    link = make_link(app, alice, folder)

    response = client.get(f"{link.url}/zip")

    assert response.status_code == 200
    assert response.data.startswith(b"PK")
    assert "X-Accel-Redirect" not in response.headers


# X-Sendfile (Apache mod_xsendfile, lighttpd)


def test_sendfile_names_the_blobs_absolute_path(app, client, as_alice, upload):
    app.config.update(ACCEL_REDIRECT=None, SENDFILE=True)
    file = upload(as_alice, "notes.txt", CONTENT)

    response = client.get(f"/files/{file.id}/download")

    path = response.headers["X-Sendfile"]
    assert os.path.isabs(path)
    assert path == os.path.join(
        os.path.abspath(app.config["STORAGE_DIR"]), *file.storage_key.split("/")
    )
    with open(path, "rb") as blob:
        assert blob.read() == CONTENT
    assert response.status_code == 200 and response.data == b""
    assert "X-Accel-Redirect" not in response.headers
    assert response.headers["Content-Security-Policy"] == SANDBOX
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment;")


# Without a proxy


def test_without_a_proxy_vault_sends_the_bytes(app, client, as_alice, upload):
    app.config.update(ACCEL_REDIRECT=None, SENDFILE=False)
    file = upload(as_alice, "notes.txt", CONTENT)

    whole = client.get(f"/files/{file.id}/download")
    part = client.get(f"/files/{file.id}/download", headers={"Range": "bytes=0-4"})

    assert whole.status_code == 200 and whole.data == CONTENT
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert (part.status_code, part.data) == (206, CONTENT[:5])
    for response in (whole, part):
        assert "X-Accel-Redirect" not in response.headers
        assert "X-Sendfile" not in response.headers


def test_the_defaults_hand_nothing_over(tmp_path):
    app = create_app(base_config(tmp_path))

    assert app.config["ACCEL_REDIRECT"] is None
    assert app.config["SENDFILE"] is False


# Configuration


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"ACCEL_REDIRECT": "protected/"}, "VAULT_ACCEL_REDIRECT"),
        ({"ACCEL_REDIRECT": "/protected"}, "VAULT_ACCEL_REDIRECT"),
        ({"ACCEL_REDIRECT": "http://proxy/protected/"}, "VAULT_ACCEL_REDIRECT"),
        ({"ACCEL_REDIRECT": "/a/../b/"}, "VAULT_ACCEL_REDIRECT"),
        ({"ACCEL_REDIRECT": "/a b/"}, "VAULT_ACCEL_REDIRECT"),
        ({"ACCEL_REDIRECT": "/p/?x=/"}, "VAULT_ACCEL_REDIRECT"),
        ({"ACCEL_REDIRECT": 1}, "VAULT_ACCEL_REDIRECT"),
        ({"SENDFILE": "yes"}, "VAULT_SENDFILE"),
        ({"ACCEL_REDIRECT": "/protected/", "SENDFILE": True}, "not both"),
    ],
)
def test_bad_offload_settings_stop_the_app_from_starting(tmp_path, settings, message):
    with pytest.raises(ValueError, match=message):
        create_app({**base_config(tmp_path), **settings})


@pytest.mark.parametrize("prefix", ["/protected/", "/", "/internal/blobs_1/"])
def test_good_prefixes_are_accepted(tmp_path, prefix):
    app = create_app({**base_config(tmp_path), "ACCEL_REDIRECT": prefix})

    assert app.config["ACCEL_REDIRECT"] == prefix


def test_the_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VAULT_ACCEL_REDIRECT", "/protected/")
    accel = create_app(base_config(tmp_path))
    monkeypatch.delenv("VAULT_ACCEL_REDIRECT")
    monkeypatch.setenv("VAULT_SENDFILE", "true")
    sendfile = create_app(base_config(tmp_path))

    assert accel.config["ACCEL_REDIRECT"] == "/protected/"
    assert sendfile.config["SENDFILE"] is True
