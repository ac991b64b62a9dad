"""Text downloads and previews say `charset=utf-8` when their bytes are UTF-8."""

import pytest

from tests.test_shares_public import make_link
from vault.downloads import CHARSET_SNIFF_BYTES

pytestmark = pytest.mark.bytes

# "é" is two bytes in UTF-8: placed so that it straddles the end of the window
# that is checked, it must not make the file look like something else.
STRADDLING = b"a" * (CHARSET_SNIFF_BYTES - 1) + "é".encode() + b"z" * 10


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("notes.txt", "héllo wörld\n".encode(), "text/plain; charset=utf-8"),
        ("plain.txt", b"just ASCII\n", "text/plain; charset=utf-8"),
        ("big.txt", STRADDLING, "text/plain; charset=utf-8"),
        ("table.csv", "naïve,1\n".encode(), "text/csv; charset=utf-8"),
        ("latin.txt", "héllo\n".encode("latin-1"), "text/plain"),
        ("data.json", '{"é": 1}'.encode(), "application/json"),
    ],
    ids=["utf8", "ascii", "straddling", "csv", "latin1", "binary"],
)
def test_text_downloads_carry_their_charset(
    app, client, as_alice, upload, api_headers, name, content, content_type
):
    file = upload(as_alice, name, content)
    link = make_link(app, as_alice, file)

    for url, headers in [
        (f"/files/{file.id}/download", {}),
        (f"/api/v1/files/{file.id}/content", api_headers(as_alice)),
        (f"{link.url}/download", {}),
    ]:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        assert response.headers["Content-Type"] == content_type, url
        assert response.data == content


@pytest.mark.parametrize(
    ("content", "content_type"),
    [("héllo\n".encode(), "text/plain; charset=utf-8"), (b"h\xe9llo\n", "text/plain")],
    ids=["utf8", "latin1"],
)
def test_text_previews_say_utf8_only_when_it_is(
    client, as_alice, upload, content, content_type
):
    file = upload(as_alice, "page.html", content)

    response = client.get(f"/files/{file.id}/view")

    assert response.headers["Content-Type"] == content_type
    assert response.data == content
