"""A folder link: browsing, files inside, zips, and nothing outside it."""

import pytest

from tests.factories import PNG
from tests.test_shares_public import (
    assert_share_headers,
    link_row,
    log_of,
    make_holiday,
    make_link,
    open_zip,
    outcomes,
)
from vault.extensions import db
from vault.models import User
from vault.services.share_downloads import UNIT, cost

pytestmark = pytest.mark.bytes


@pytest.fixture
def holiday(alice, upload, make_folder):
    return make_holiday(alice, upload, make_folder)


def test_folder_link_lists_the_folder(app, client, alice, holiday):
    link = make_link(app, alice, holiday["folder"], note="Our trip")

    page = client.get(link.url).get_data(as_text=True)

    assert "Holiday" in page and "Our trip" in page
    for name in ("beach.png", "plan.md", "Trip"):
        assert name in page
    assert "day.txt" not in page  # it is one level down
    assert f'href="{link.url}/f/{holiday["trip"].id}"' in page
    assert f'href="{link.url}/files/{holiday["plan"].id}/download"' in page
    assert f'src="{link.url}/files/{holiday["beach"].id}/thumbnail"' in page
    assert f'href="{link.url}/zip"' in page


def test_folder_link_browses_subfolders_never_above_the_shared_one(
    app, client, alice, holiday, make_folder
):
    outer = make_folder(alice, "Private outer")
    with app.app_context():
        from vault.services import tree

        owner = db.session.get(User, alice.id)
        folder = tree.get_folder(owner, holiday["folder"].id)
        tree.move_nodes(owner, [folder], tree.get_folder(owner, outer.id))
    link = make_link(app, alice, holiday["folder"])

    page = client.get(f"{link.url}/f/{holiday['trip'].id}").get_data(as_text=True)

    assert "day.txt" in page
    assert f'href="{link.url}/files/{holiday["day"].id}/download"' in page
    assert f'<a href="{link.url}">Holiday</a>' in page
    assert "Private outer" not in page
    assert f'href="{link.url}/f/{holiday["trip"].id}/zip"' in page


def test_folder_link_serves_files_inside(app, client, alice, holiday):
    link = make_link(app, alice, holiday["folder"])
    day = holiday["day"]

    download = client.get(f"{link.url}/files/{day.id}/download")
    view = client.get(f"{link.url}/files/{day.id}/view")
    thumbnail = client.get(f"{link.url}/files/{holiday['beach'].id}/thumbnail")
    page = client.get(f"{link.url}/files/{day.id}")

    assert download.data == b"day one"
    assert view.data == b"day one"
    assert view.headers["Content-Type"].startswith("text/plain")
    assert thumbnail.status_code == 200
    assert thumbnail.headers["Content-Type"] == "image/webp"
    assert page.status_code == 200
    assert f'href="{link.url}/files/{day.id}/download"' in page.text
    assert link_row(app, link).download_units == 1 * UNIT  # the download, not the rest


def test_a_file_without_a_thumbnail_has_none(app, client, alice, holiday):
    link = make_link(app, alice, holiday["folder"])

    response = client.get(f"{link.url}/files/{holiday['plan'].id}/thumbnail")

    assert response.status_code == 404


def test_folder_zip_holds_the_shared_tree_and_counts_once(
    app, client, alice, holiday, upload, trash_item
):
    trash_item(alice, upload(alice, "gone.txt", b"x", folder_id=holiday["trip"].id))
    link = make_link(app, alice, holiday["folder"], max_downloads=2)

    everything = open_zip(client.get(f"{link.url}/zip"))
    trip = open_zip(client.get(f"{link.url}/f/{holiday['trip'].id}/zip"))

    assert set(everything) == {
        "Holiday/",
        "Holiday/Trip/",
        "Holiday/Trip/day.txt",
        "Holiday/beach.png",
        "Holiday/plan.md",
    }
    assert trip == {"Trip/": b"", "Trip/day.txt": b"day one"}
    assert link_row(app, link).download_units == 2 * UNIT
    assert [row.detail for row in log_of(app, link) if row.outcome == "zip"] == [
        "Holiday.zip",
        "Trip.zip",
    ]
    assert client.get(f"{link.url}/zip").status_code == 410


def test_a_zip_that_stops_early_is_given_back(app, client, alice, holiday):
    link = make_link(app, alice, holiday["folder"], max_downloads=1)

    response = client.get(f"{link.url}/zip", buffered=False)
    size = response.content_length
    first = next(iter(response.response))
    response.close()

    # Only what the server took is charged: the first piece of the zip.
    assert link_row(app, link).download_units == cost(0, len(first), size)
    assert 0 < cost(0, len(first), size) < UNIT
    assert outcomes(app, link)[-2:] == ["zip", "incomplete"]


def test_a_head_request_for_a_zip_does_not_count(app, client, alice, holiday):
    link = make_link(app, alice, holiday["folder"], max_downloads=1)

    assert client.head(f"{link.url}/zip").status_code == 200
    assert link_row(app, link).download_units == 0 * UNIT


OUTSIDE_ROUTES = [
    "/f/{id}",
    "/f/{id}/zip",
    "/files/{id}",
    "/files/{id}/download",
    "/files/{id}/view",
    "/files/{id}/thumbnail",
]


@pytest.fixture
def outsiders(alice, bob, upload, make_folder, holiday, trash_item):
    """Ids a Holiday link must never reach, by name."""
    sibling = make_folder(alice, "Sibling")
    return {
        "parent root file": upload(alice, "secret.png", PNG).id,
        "sibling folder": sibling.id,
        "file in a sibling": upload(alice, "s.txt", b"s", folder_id=sibling.id).id,
        "someone else's file": upload(bob, "bob.png", PNG).id,
        "someone else's folder": make_folder(bob, "Bob's").id,
        "trashed file inside": trash_item(
            alice, upload(alice, "t.txt", b"t", folder_id=holiday["folder"].id)
        ).id,
        "not an id": "..%2F..%2Fetc",
        "upper-case id": holiday["day"].id.upper(),
    }


@pytest.mark.parametrize("route", OUTSIDE_ROUTES)
def test_nothing_outside_the_shared_folder_is_reachable(
    app, client, alice, holiday, outsiders, route
):
    link = make_link(app, alice, holiday["folder"])

    for what, node_id in outsiders.items():
        response = client.get(link.url + route.format(id=node_id))
        assert response.status_code == 404, what
        assert_share_headers(response)


def test_file_routes_refuse_folders_and_folder_routes_refuse_files(
    app, client, alice, holiday
):
    link = make_link(app, alice, holiday["folder"])
    trip, day = holiday["trip"].id, holiday["day"].id

    assert client.get(f"{link.url}/files/{trip}/download").status_code == 404
    assert client.get(f"{link.url}/files/{holiday['folder'].id}").status_code == 404
    assert client.get(f"{link.url}/f/{day}").status_code == 404
    assert client.get(f"{link.url}/download").status_code == 404  # not a file
