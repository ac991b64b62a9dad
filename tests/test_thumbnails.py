"""Image thumbnails: WebP, small, made once, upright, never from SVG or junk."""

import io

import pytest
from PIL import Image

from tests.factories import image_bytes
from tests.helpers import blobs, node

pytestmark = pytest.mark.bytes

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'


def thumbnail_of(client, file) -> Image.Image:
    response = client.get(f"/files/{file.id}/thumbnail")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/webp"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    image = Image.open(io.BytesIO(response.data))
    assert image.format == "WEBP"
    return image


@pytest.mark.parametrize(
    ("name", "image_format", "size", "expected"),
    [
        ("wide.png", "PNG", (1000, 500), (320, 160)),
        ("tall.jpg", "JPEG", (300, 900), (107, 320)),
        ("small.gif", "GIF", (40, 30), (40, 30)),
        ("photo.webp", "WEBP", (640, 640), (320, 320)),
    ],
)
def test_thumbnail_is_a_webp_of_at_most_320_pixels(
    client, as_alice, upload, name, image_format, size, expected
):
    file = upload(as_alice, name, image_bytes(image_format, size))

    assert thumbnail_of(client, file).size == expected


def test_thumbnail_is_made_once_and_kept(client, app, as_alice, upload):
    file = upload(as_alice, "photo.png", image_bytes("PNG", (800, 600)))

    first = client.get(f"/files/{file.id}/thumbnail")
    key = node(app, file.id).thumbnail_key
    stored = blobs(app)
    second = client.get(f"/files/{file.id}/thumbnail")

    assert key is not None
    assert stored[key] == first.data
    assert second.data == first.data
    assert node(app, file.id).thumbnail_key == key
    assert blobs(app) == stored
    assert set(stored) == {file.storage_key, key}


def test_thumbnail_answers_not_modified_to_a_cached_copy(client, as_alice, upload):
    file = upload(as_alice, "photo.png", image_bytes())
    etag = client.get(f"/files/{file.id}/thumbnail").headers["ETag"]

    response = client.get(
        f"/files/{file.id}/thumbnail", headers={"If-None-Match": etag}
    )

    assert response.status_code == 304


def test_thumbnail_follows_the_exif_orientation(client, as_alice, upload):
    # Stored 40 wide and 20 high, but EXIF says "rotate 90°" (orientation 6).
    file = upload(as_alice, "phone.jpg", image_bytes("JPEG", (40, 20), orientation=6))

    width, height = thumbnail_of(client, file).size

    assert height > width


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("drawing.svg", SVG),
        ("notes.txt", b"just text"),
        ("paper.pdf", b"%PDF-1.4\n"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 100),
        ("truncated.jpg", image_bytes("JPEG", (64, 64))[:200]),
    ],
    ids=["svg", "text", "pdf", "corrupt-png", "truncated-jpeg"],
)
def test_no_thumbnail_for_what_is_not_a_readable_raster_image(
    client, app, as_alice, upload, name, content
):
    file = upload(as_alice, name, content)

    response = client.get(f"/files/{file.id}/thumbnail")

    assert response.status_code == 404
    assert node(app, file.id).thumbnail_key is None
    assert set(blobs(app)) == {file.storage_key}


def test_webp_with_corrupt_exif_gets_no_thumbnail_rather_than_an_error(
    client, app, as_alice, upload
):
    photo = image_bytes("WEBP", (40, 20), orientation=6)
    tiff_header = photo.index(b"MM\x00*")
    corrupt = photo[:tiff_header] + b"XX\x00*" + photo[tiff_header + 4 :]
    file = upload(as_alice, "odd.webp", corrupt)

    response = client.get(f"/files/{file.id}/thumbnail")

    assert response.status_code == 404
    assert set(blobs(app)) == {file.storage_key}


def test_folder_pages_show_thumbnails_only_for_raster_images(client, as_alice, upload):
    photo = upload(as_alice, "photo.png", image_bytes())
    drawing = upload(as_alice, "drawing.svg", SVG)

    page = client.get("/").text

    assert f"/files/{photo.id}/thumbnail" in page
    assert f"/files/{drawing.id}/thumbnail" not in page


def test_deleting_for_good_removes_the_thumbnail_too(
    client, app, as_alice, upload, trash_item, api_headers
):
    file = upload(as_alice, "photo.png", image_bytes())
    client.get(f"/files/{file.id}/thumbnail")
    thumbnail_key = node(app, file.id).thumbnail_key
    trash_item(as_alice, file)

    assert client.get(f"/files/{file.id}/thumbnail").status_code == 404
    assert thumbnail_key in blobs(app)
    client.delete(f"/api/v1/trash/{file.id}", headers=api_headers(as_alice))

    assert blobs(app) == {}
