"""A link's download limit bounds the whole copies that leave, however asked for.

Bytes count, not requests: a file fetched in Range pieces costs one download,
a piece costs its part of one, and a download that stopped early can be
resumed without costing twice (services/share_downloads.py).
"""

import io
import threading
import zipfile

import pytest

from tests.helpers import read_in_pieces_of
from tests.test_shares_public import link_row, make_link, outcomes
from vault.services import share_downloads
from vault.services.share_downloads import UNIT, cost

pytestmark = pytest.mark.bytes

CONTENT = bytes(range(256)) * 4  # 1,024 bytes


@pytest.mark.parametrize("size", [1, 3, 1024, 10**7 + 3, 10**12 + 7])
def test_pieces_that_make_a_file_cost_exactly_one_download(size):
    cuts = sorted({0, size, *(size * k // 7 for k in range(1, 7))})

    pieces = [cost(a, b, size) for a, b in zip(cuts, cuts[1:], strict=False)]

    assert sum(pieces) == UNIT
    assert cost(0, size, size) == UNIT


def test_any_bytes_cost_something_and_none_cost_nothing():
    assert cost(5, 6, 10**12) == 1  # a byte of a terabyte still costs
    assert cost(7, 7, 100) == 0
    assert cost(0, 0, 0) == UNIT  # an empty file: one whole download


def test_the_allowance_is_4_mib_of_the_file_and_never_more_than_5_percent():
    assert share_downloads.allowance(4 * 1024**3) == 977  # 1/1024, rounded up
    assert share_downloads.allowance(1024) == UNIT // 20
    assert share_downloads.allowance(0) == UNIT // 20


def test_a_file_fetched_in_pieces_uses_up_the_limit(app, client, alice, upload):
    file = upload(alice, "film.mp4", CONTENT)
    link = make_link(app, alice, file, max_downloads=2)
    url = f"{link.url}/download"
    pieces = ["bytes=0-255", "bytes=256-511", "bytes=512-767", "bytes=768-"]

    fetched = [client.get(url, headers={"Range": piece}) for piece in pieces * 2]
    refused = [client.get(url, headers={"Range": piece}) for piece in pieces]
    whole = client.get(url)

    assert [response.status_code for response in fetched] == [206] * 8
    assert b"".join(response.data for response in fetched[:4]) == CONTENT
    assert [response.status_code for response in refused] == [410] * 4
    assert whole.status_code == 410
    assert link_row(app, link).download_units == 2 * UNIT


def test_the_same_part_over_and_over_counts_each_time(app, client, alice, upload):
    file = upload(alice, "film.mp4", CONTENT)
    link = make_link(app, alice, file, max_downloads=1)
    url = f"{link.url}/download"

    statuses = [
        client.get(url, headers={"Range": "bytes=0-511"}).status_code for _ in range(3)
    ]

    assert statuses == [206, 206, 410]
    assert link_row(app, link).download_units == UNIT


def test_a_request_the_rest_cannot_cover_is_refused_and_costs_nothing(
    app, client, alice, upload
):
    file = upload(alice, "film.mp4", CONTENT)
    link = make_link(app, alice, file, max_downloads=1)
    url = f"{link.url}/download"
    client.get(url, headers={"Range": "bytes=0-511"})

    whole = client.get(url)
    rest = client.get(url, headers={"Range": "bytes=512-"})

    assert whole.status_code == 410
    assert "download limit" in whole.get_data(as_text=True)
    assert (rest.status_code, rest.data) == (206, CONTENT[512:])
    assert link_row(app, link).download_units == UNIT


def test_a_resume_may_overlap_by_the_allowance_and_no_more(app, client, alice, upload):
    file = upload(alice, "notes.txt", b"n" * 1000)  # allowance: 50 bytes
    link = make_link(app, alice, file, max_downloads=1)
    url = f"{link.url}/download"

    first = client.get(url, headers={"Range": "bytes=0-599"})
    resumed = client.get(url, headers={"Range": "bytes=550-"})  # 50 bytes again
    more = client.get(url, headers={"Range": "bytes=999-"})

    assert (first.status_code, resumed.status_code) == (206, 206)
    assert more.status_code == 410
    assert link_row(app, link).download_units == UNIT + UNIT // 20


@pytest.mark.parametrize(
    "headers, status",
    [
        ({}, 200),  # HEAD
        ({"Range": "bytes=5000-"}, 416),
        ({"If-None-Match": "*"}, 304),
    ],
)
def test_what_sends_no_bytes_costs_nothing(app, client, alice, upload, headers, status):
    file = upload(alice, "film.mp4", CONTENT)
    link = make_link(app, alice, file, max_downloads=1)
    url = f"{link.url}/download"

    if headers:
        response = client.get(url, headers=headers)
    else:
        response = client.head(url)

    assert response.status_code == status
    assert link_row(app, link).download_units == 0


def test_parallel_pieces_never_pass_the_limit(app, alice, upload):
    file = upload(alice, "film.mp4", CONTENT)
    link = make_link(app, alice, file, max_downloads=1)
    visitors = 8
    start = threading.Barrier(visitors)
    statuses: list[int] = []

    def visit() -> None:
        client = app.test_client()
        start.wait()
        response = client.get(f"{link.url}/download", headers={"Range": "bytes=0-511"})
        statuses.append(response.status_code)
        response.close()

    threads = [threading.Thread(target=visit) for _ in range(visitors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [206, 206] + [410] * (visitors - 2)
    assert link_row(app, link).download_units == UNIT


def test_a_zip_that_stops_early_costs_what_it_sent(
    app, client, alice, upload, make_folder, monkeypatch
):
    read_in_pieces_of(monkeypatch, 256)
    folder = make_folder(alice, "Shared")
    upload(alice, "film.mp4", CONTENT, folder_id=folder.id)
    link = make_link(app, alice, folder, max_downloads=1)

    response = client.get(f"{link.url}/zip", buffered=False)
    size = response.content_length
    sent = 0
    chunks = iter(response.response)
    while sent < size // 2:
        sent += len(next(chunks))
    response.close()
    used = link_row(app, link).download_units
    whole = client.get(f"{link.url}/zip")

    assert 0 < used < UNIT
    assert used == cost(0, sent, size)
    assert whole.status_code == 410  # half a zip is left: not a whole one
    assert outcomes(app, link) == ["zip", "incomplete"]


def test_a_whole_zip_is_one_download(app, client, alice, upload, make_folder):
    folder = make_folder(alice, "Shared")
    upload(alice, "film.mp4", CONTENT, folder_id=folder.id)
    link = make_link(app, alice, folder, max_downloads=1)

    response = client.get(f"{link.url}/zip")

    assert zipfile.ZipFile(io.BytesIO(response.data)).namelist() == [
        "Shared/",
        "Shared/film.mp4",
    ]
    assert link_row(app, link).download_units == UNIT


def test_pages_and_the_api_show_parts_of_a_download(
    app, client, alice, upload, auth, api_headers
):
    file = upload(alice, "film.mp4", CONTENT)
    link = make_link(app, alice, file, max_downloads=2)
    client.get(f"{link.url}/download", headers={"Range": "bytes=0-511"})

    visitor_page = client.get(link.url).get_data(as_text=True)
    api = client.get(f"/api/v1/shares/{link.id}", headers=api_headers(alice))
    auth.login()
    owner_page = client.get(f"/shares/{link.id}").get_data(as_text=True)

    assert "<strong>1.5</strong> of 2 downloads left" in visitor_page
    assert api.get_json()["download_count"] == 0.5
    assert "0.5 of 2 downloads" in owner_page
