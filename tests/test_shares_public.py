"""Share links as visitors use them: a file link, its downloads and their counting.

The helpers at the top are shared with the other test_shares_public_* files.
"""

import io
import zipfile
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import csrf_token_from
from tests.factories import image_bytes
from tests.helpers import read_in_pieces_of
from vault.extensions import db
from vault.models import ShareAccess, ShareLink, User, utcnow
from vault.public.blueprint import time_left
from vault.services import shares
from vault.services.share_downloads import UNIT

pytestmark = pytest.mark.bytes

SHARE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "private, no-store",
}


@dataclass
class Link:
    id: str
    token: str

    @property
    def url(self) -> str:
        return f"/s/{self.token}"


def make_link(app, user, node, **options) -> Link:
    """Create a link through the owner's service, as the owner's pages do."""
    with app.app_context():
        options.setdefault("expires_at", utcnow() + timedelta(days=1))
        owner = db.session.get(User, user.id)
        share = shares.create_share(owner, node.id, **options)
        return Link(share.id, shares.share_token(share))


def change_link(app, link: Link, **values) -> None:
    """Set a link's columns directly: expiry in the past, counts, revocation."""
    with app.app_context():
        db.session.execute(
            update(ShareLink).where(ShareLink.id == link.id).values(**values)
        )
        db.session.commit()


def link_row(app, link: Link) -> ShareLink:
    with app.app_context():
        share = db.session.get(ShareLink, link.id)
        db.session.expunge(share)
        return share


def log_of(app, link: Link) -> list[ShareAccess]:
    with app.app_context():
        rows = db.session.scalars(
            select(ShareAccess)
            .where(ShareAccess.share_id == link.id)
            .order_by(ShareAccess.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def outcomes(app, link: Link) -> list[str]:
    return [row.outcome for row in log_of(app, link)]


def unlock(client, link: Link, password: str, **options):
    """Submit a link's password form, as a visitor's browser would."""
    page = client.get(link.url, **options).get_data(as_text=True)
    data = {"password": password, "csrf_token": csrf_token_from(page)}
    return client.post(f"{link.url}/unlock", data=data, **options)


def open_zip(response) -> dict[str, bytes]:
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.testzip() is None
    return {name: archive.read(name) for name in archive.namelist()}


def assert_share_headers(response) -> None:
    for name, value in SHARE_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)


def make_holiday(alice, upload, make_folder) -> dict:
    """Holiday/{beach.png, plan.md, Trip/{day.txt}} for alice."""
    folder = make_folder(alice, "Holiday")
    trip = make_folder(alice, "Trip", folder.id)
    return {
        "folder": folder,
        "trip": trip,
        "beach": upload(alice, "beach.png", image_bytes(), folder_id=folder.id),
        "plan": upload(alice, "plan.md", b"# plan\n", folder_id=folder.id),
        "day": upload(alice, "day.txt", b"day one", folder_id=trip.id),
    }


@pytest.fixture
def notes(alice, upload):
    return upload(alice, "notes.txt", b"hello visitor\n")


# ---------- A file link ----------


def test_file_link_page_shows_the_file_and_the_link(app, client, alice, notes):
    link = make_link(app, alice, notes, note="For the trip", max_downloads=3)

    response = client.get(link.url)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "notes.txt" in page
    assert "14 bytes" in page
    assert "For the trip" in page
    assert "Link expires in 24 hours" in page
    assert "<strong>3</strong> of 3 downloads left" in page
    assert f'href="{link.url}/download"' in page
    assert "a whole file is one download, a part of it is that part" in page
    assert "can be resumed without counting twice" in page


def test_file_link_page_previews_a_safe_type(app, client, alice, upload):
    photo = upload(alice, "photo.png", image_bytes())
    link = make_link(app, alice, photo)

    page = client.get(link.url).get_data(as_text=True)

    assert f'<img class="viewer-media" src="{link.url}/files/{photo.id}/view"' in page


def test_a_limited_link_shows_no_preview_since_it_would_count(
    app, client, alice, upload
):
    photo = upload(alice, "photo.png", image_bytes())
    link = make_link(app, alice, photo, max_downloads=2)

    page = client.get(link.url).get_data(as_text=True)

    assert "viewer-media" not in page
    assert "no preview on links with a download limit" in page
    assert link_row(app, link).download_units == 0 * UNIT


def test_the_preview_of_a_limited_link_counts_like_a_download(
    app, client, alice, upload
):
    photo = upload(alice, "photo.png", image_bytes())
    link = make_link(app, alice, photo, max_downloads=1)

    first = client.get(f"{link.url}/files/{photo.id}/view")
    second = client.get(f"{link.url}/files/{photo.id}/view")

    assert first.status_code == 200
    assert first.headers["Content-Disposition"].startswith("inline")
    assert second.status_code == 410


def test_view_serves_only_types_that_cannot_run_script(app, client, alice, upload):
    drawing = upload(alice, "drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    link = make_link(app, alice, drawing)

    assert client.get(f"{link.url}/files/{drawing.id}/view").status_code == 404
    assert client.get(f"{link.url}/download").status_code == 200


def test_download_sends_the_bytes_as_an_attachment(app, client, alice, notes):
    link = make_link(app, alice, notes)

    response = client.get(f"{link.url}/download")

    assert response.status_code == 200
    assert response.data == b"hello visitor\n"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["Content-Security-Policy"].startswith("sandbox")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert_share_headers(response)


def test_a_whole_download_counts_once_and_is_logged(app, client, alice, notes):
    link = make_link(app, alice, notes, max_downloads=5)

    client.get(f"{link.url}/download", headers={"User-Agent": "Visitor/1.0"})

    assert link_row(app, link).download_units == 1 * UNIT
    [entry] = log_of(app, link)
    assert (entry.outcome, entry.detail) == ("download", "notes.txt")
    assert entry.user_agent == "Visitor/1.0"


def test_range_requests_work_and_parts_count_as_parts(app, client, alice, upload):
    video = upload(alice, "clip.mp4", bytes(range(256)) * 4)
    link = make_link(app, alice, video, max_downloads=1)
    url = f"{link.url}/download"

    middle = client.get(url, headers={"Range": "bytes=100-199"})
    tail = client.get(url, headers={"Range": "bytes=1000-"})

    assert middle.status_code == 206
    assert middle.data == (bytes(range(256)) * 4)[100:200]
    assert middle.headers["Content-Range"] == "bytes 100-199/1024"
    assert_share_headers(middle)
    assert tail.status_code == 206 and len(tail.data) == 24
    # 100 and 24 of 1,024 bytes, to the millionth, rounded as pieces add up.
    assert link_row(app, link).download_units == 97_656 + 23_437
    assert outcomes(app, link) == []  # not downloads from the start: not logged


def test_a_range_that_covers_the_whole_file_counts(app, client, alice, notes):
    link = make_link(app, alice, notes, max_downloads=3)

    response = client.get(f"{link.url}/download", headers={"Range": "bytes=0-"})

    assert response.status_code == 206
    assert link_row(app, link).download_units == 1 * UNIT


def test_a_head_request_does_not_count(app, client, alice, notes):
    link = make_link(app, alice, notes, max_downloads=1)

    response = client.head(f"{link.url}/download")

    assert response.status_code == 200
    assert response.headers["Content-Length"] == "14"
    assert link_row(app, link).download_units == 0 * UNIT


def test_a_download_that_stops_early_is_given_back_and_can_be_resumed(
    app, client, alice, upload, monkeypatch
):
    read_in_pieces_of(monkeypatch, 16)
    big = upload(alice, "big.txt", b"x" * 64)
    link = make_link(app, alice, big, max_downloads=1)

    response = client.get(f"{link.url}/download", buffered=False)
    first_chunk = next(iter(response.response))
    assert link_row(app, link).download_units == 1 * UNIT  # claimed while it runs
    response.close()  # the visitor went away
    stopped = link_row(app, link).download_units
    rest = client.get(f"{link.url}/download", headers={"Range": "bytes=16-"})

    assert first_chunk == b"x" * 16
    assert stopped == UNIT // 4  # the 16 bytes the server took
    assert (rest.status_code, rest.data) == (206, b"x" * 48)
    assert link_row(app, link).download_units == 1 * UNIT
    assert outcomes(app, link) == ["download", "incomplete"]
    assert client.get(f"{link.url}/download").status_code == 410


def test_the_download_limit_turns_the_link_off(app, client, alice, notes):
    link = make_link(app, alice, notes, max_downloads=2)

    statuses = [client.get(f"{link.url}/download").status_code for _ in range(3)]

    assert statuses == [200, 200, 410]
    page = client.get(link.url)
    assert page.status_code == 410
    assert "reached its download limit" in page.get_data(as_text=True)
    assert "notes.txt" not in page.get_data(as_text=True)


def test_rename_and_move_keep_the_link_working(
    app, client, as_alice, notes, make_folder
):
    link = make_link(app, as_alice, notes)
    folder = make_folder(as_alice, "Elsewhere")
    with app.app_context():
        from vault.services import files, tree

        owner = db.session.get(User, as_alice.id)
        node = files.get_file(owner, notes.id)
        files.update_item(
            owner, node, name="renamed.txt", target=tree.get_folder(owner, folder.id)
        )

    assert "renamed.txt" in client.get(link.url).get_data(as_text=True)
    assert client.get(f"{link.url}/download").data == b"hello visitor\n"


def test_a_file_link_has_no_folder_pages(app, client, alice, notes):
    link = make_link(app, alice, notes)

    for path in ("/zip", f"/f/{notes.id}", f"/f/{notes.id}/zip"):
        assert client.get(link.url + path).status_code == 404, path


# ---------- Small helpers ----------


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (3 * 86400 - 5, "in 3 days"),
        (47 * 3600, "in 47 hours"),
        (2 * 3600 + 1, "in 2 hours"),
        (119 * 60, "in 119 minutes"),
        (90, "in a minute"),
        (30, "in less than a minute"),
    ],
)
def test_time_left_reads_naturally(seconds, words):
    now = utcnow()

    assert time_left(now + timedelta(seconds=seconds), now) == words
