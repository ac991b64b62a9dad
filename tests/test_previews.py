"""The viewer page, and versioned static assets."""

import hashlib
import re
from pathlib import Path

import pytest

from tests.factories import PDF, image_bytes

pytestmark = pytest.mark.bytes

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("name", "content", "element"),
    [
        ("photo.png", image_bytes(), "img"),
        ("photo.jpg", image_bytes("JPEG"), "img"),
        ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 16, "video"),
        ("clip.webm", b"\x1aE\xdf\xa3" + b"\x00" * 16, "video"),
        ("song.mp3", b"ID3\x04\x00" + b"\x00" * 16, "audio"),
        ("song.ogg", b"OggS" + b"\x00" * 16, "audio"),
        ("paper.pdf", PDF, "iframe"),
        ("notes.txt", b"plain words", "iframe"),
        ("page.html", b"<script>alert(1)</script>", "iframe"),
    ],
)
def test_preview_shows_the_file_with_the_element_for_its_type(
    client, as_alice, upload, name, content, element
):
    file = upload(as_alice, name, content)

    response = client.get(f"/files/{file.id}/preview")

    assert response.status_code == 200
    page = response.text
    assert re.search(rf'<{element}\b[^>]*src="/files/{file.id}/view"', page)
    assert f'href="/files/{file.id}/download"' in page
    assert "There is no preview" not in page


@pytest.mark.parametrize(
    ("name", "content"),
    [("drawing.svg", SVG), ("bundle.zip", b"PK\x03\x04"), ("sheet.docx", b"PK")],
)
def test_preview_of_an_unsafe_or_unknown_type_offers_only_the_download(
    client, as_alice, upload, name, content
):
    file = upload(as_alice, name, content)

    page = client.get(f"/files/{file.id}/preview").text

    assert "There is no preview for this type of file." in page
    assert f"/files/{file.id}/view" not in page
    assert f'href="/files/{file.id}/download"' in page


def test_preview_shows_where_the_file_is(client, as_alice, upload, make_folder):
    folder = make_folder(as_alice, "Holiday")
    file = upload(as_alice, "photo.png", image_bytes(), folder_id=folder.id)

    page = client.get(f"/files/{file.id}/preview").text

    assert f'href="/folders/{folder.id}"' in page
    assert "Holiday" in page


def test_view_of_an_svg_is_never_inline(client, as_alice, upload):
    file = upload(as_alice, "drawing.svg", SVG)

    response = client.get(f"/files/{file.id}/view")

    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Security-Policy"].startswith("sandbox")


def test_the_viewer_may_frame_a_preview_but_nobody_else_may(client, as_alice, upload):
    file = upload(as_alice, "paper.pdf", PDF)

    response = client.get(f"/files/{file.id}/view")

    assert response.headers["Content-Disposition"].startswith("inline;")
    policy = [
        part.strip() for part in response.headers["Content-Security-Policy"].split(";")
    ]
    assert "sandbox" in policy
    assert "frame-ancestors 'self'" in policy
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


# --- static assets ---------------------------------------------------------------


def test_static_urls_carry_a_content_version(app, client, as_alice):
    page = client.get("/").text
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)

    assert any(url.startswith("/static/css/") for url in urls)
    for url in urls:
        path, _, query = url.partition("?")
        asset = Path(app.static_folder, path.removeprefix("/static/"))
        digest = hashlib.sha256(asset.read_bytes()).hexdigest()
        assert query == f"v={digest[:12]}", url
        with client.get(url) as response:
            assert response.status_code == 200


def test_versioned_assets_may_be_cached_for_long(client, as_alice):
    [url] = re.findall(r'href="(/static/css/[^"]+)"', client.get("/").text)[:1]

    with client.get(url) as response:
        assert response.cache_control.max_age >= 30 * 24 * 3600
