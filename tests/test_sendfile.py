"""Downloads through the WSGI server's file wrapper (gunicorn: sendfile(2)).

Without a proxy in front, the app hands the server an open file positioned at
the first byte wanted; the server sends Content-Length bytes from there.
"""

import http.client
import os

import pytest
from werkzeug.wsgi import FileWrapper

from tests.test_shares_public import link_row, make_link
from vault.services.share_downloads import UNIT, cost

# Hands a local file to the server or the proxy, or fills a local disk.
pytestmark = pytest.mark.local_storage

CONTENT = bytes(range(256)) * 4096  # 1 MiB
MiB = 1024 * 1024


class RecordingWrapper(FileWrapper):
    """Werkzeug's reading file wrapper, remembering that it was used."""

    used: list["RecordingWrapper"] = []

    def __init__(self, file, buffer_size=8192):
        super().__init__(file, buffer_size)
        RecordingWrapper.used.append(self)


@pytest.fixture
def wrapper():
    RecordingWrapper.used = []
    return RecordingWrapper


def get(client, url, wrapper, **options):
    response = client.get(url, environ_base={"wsgi.file_wrapper": wrapper}, **options)
    response.get_data()
    response.close()  # as a server does: the wrapper closes the file
    return response


@pytest.mark.parametrize(
    "range_header, start, stop",
    [
        (None, 0, len(CONTENT)),
        ("bytes=100-199", 100, 200),  # a reading server must stop at 199
        (f"bytes=-{MiB // 2}", MiB // 2, MiB),
    ],
)
def test_downloads_go_through_the_servers_file_wrapper(
    client, as_alice, upload, wrapper, range_header, start, stop
):
    file = upload(as_alice, "data.zip", CONTENT)
    headers = {"Range": range_header} if range_header else {}

    response = get(client, f"/files/{file.id}/download", wrapper, headers=headers)

    assert response.status_code == (206 if range_header else 200)
    assert response.data == CONTENT[start:stop]
    assert response.content_length == stop - start
    assert len(wrapper.used) == 1


def test_an_api_download_goes_through_the_file_wrapper(
    client, alice, upload, api_headers, wrapper
):
    file = upload(alice, "data.zip", CONTENT)

    response = get(
        client, f"/api/v1/files/{file.id}/content", wrapper, headers=api_headers(alice)
    )

    assert response.data == CONTENT
    assert len(wrapper.used) == 1


def test_a_head_request_opens_no_file(client, as_alice, upload, wrapper):
    file = upload(as_alice, "data.zip", CONTENT)

    response = client.head(
        f"/files/{file.id}/download", environ_base={"wsgi.file_wrapper": wrapper}
    )

    assert response.status_code == 200
    assert response.content_length == len(CONTENT)
    assert wrapper.used == []


def test_a_limited_link_is_read_through_vault_so_it_can_be_given_back(
    app, client, alice, upload, wrapper
):
    file = upload(alice, "data.zip", CONTENT)
    link = make_link(app, alice, file, max_downloads=2)

    whole = get(client, f"{link.url}/download", wrapper)
    part = get(client, f"{link.url}/download", wrapper, headers={"Range": "bytes=5-9"})

    assert whole.data == CONTENT and part.data == CONTENT[5:10]
    assert link_row(app, link).download_units == UNIT + cost(5, 10, len(CONTENT))
    # Neither went through the wrapper: only an iterable sees the bytes go.
    assert wrapper.used == []


def test_gunicorn_sends_whole_files_and_ranges(
    app, alice, upload, api_headers, gunicorn
):
    content = os.urandom(3 * MiB + 5)
    file = upload(alice, "random.zip", content)
    url = f"/api/v1/files/{file.id}/content"
    connection = http.client.HTTPConnection("127.0.0.1", gunicorn, timeout=30)
    cases = [
        (None, 0, len(content)),
        ("bytes=0-", 0, len(content)),
        ("bytes=1000-1999", 1000, 2000),
        (f"bytes=-{MiB}", len(content) - MiB, len(content)),
        (f"bytes={len(content) - 1}-", len(content) - 1, len(content)),
    ]
    try:
        # One kept-alive connection: a response that sent a byte too many or
        # too few would break the next one.
        for range_header, start, stop in cases:
            headers = {**api_headers(alice)}
            if range_header:
                headers["Range"] = range_header
            connection.request("GET", url, headers=headers)
            response = connection.getresponse()
            body = response.read()
            assert (range_header, response.status) == (
                range_header,
                206 if range_header else 200,
            )
            assert body == content[start:stop], range_header
        connection.request("HEAD", url, headers=api_headers(alice))
        head = connection.getresponse()
        assert head.read() == b""
        assert head.getheader("Content-Length") == str(len(content))
    finally:
        connection.close()
