"""The share links API: /api/v1/shares, as the owner's scripts use it."""

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.helpers import error_of
from vault import security
from vault.extensions import db
from vault.models import ShareLink, User, utcnow
from vault.services import shares
from vault.services.share_access import Visitor, log_access
from vault.services.share_downloads import UNIT

HEX32 = re.compile(r"[0-9a-f]{32}")
MISSING_ID = "0" * 32
KEYS = {"id", "url", "expires_at", "max_downloads", "download_count", "has_password"}


@pytest.fixture
def headers(alice, api_headers):
    return api_headers(alice)


@pytest.fixture
def report(alice, upload):
    return upload(alice, "report.pdf", b"%PDF-1.4\n%%EOF\n")


@pytest.fixture
def inbox(alice, make_folder):
    return make_folder(alice, "Inbox")


def rows(app) -> list[ShareLink]:
    with app.app_context():
        found = list(db.session.scalars(select(ShareLink)))
        for row in found:
            db.session.expunge(row)
        return found


def row(app, share_id) -> ShareLink:
    with app.app_context():
        found = db.session.get(ShareLink, share_id)
        db.session.expunge(found)
        return found


def parse(stamp: str) -> datetime:
    assert stamp.endswith("Z")
    return datetime.fromisoformat(stamp[:-1])


def post(client, headers, **body):
    return client.post("/api/v1/shares", json=body, headers=headers)


def patch(client, headers, share_id, **body):
    return client.patch(f"/api/v1/shares/{share_id}", json=body, headers=headers)


@pytest.fixture
def link(client, headers, report):
    """A download link to report.pdf, made through the API."""
    response = post(client, headers, file_id=report.id, expires_in=3600)
    assert response.status_code == 201
    return response.get_json()


# --- creating ---------------------------------------------------------------------


def test_creating_a_file_link(app, client, headers, report):
    before = utcnow().replace(microsecond=0)

    response = post(
        client, headers, file_id=report.id, expires_in=3600, max_downloads=3,
        password="open sesame", note="For you",
    )  # fmt: skip

    assert response.status_code == 201
    body = response.get_json()
    assert KEYS <= set(body)
    assert HEX32.fullmatch(body["id"])
    assert body["max_downloads"] == 3 and body["download_count"] == 0
    assert body["has_password"] is True
    assert body["kind"] == "download" and body["status"] == "active"
    assert body["note"] == "For you"
    assert body["item"] == {
        "id": report.id, "name": "report.pdf", "type": "file", "in_trash": False
    }  # fmt: skip
    expires_at = parse(body["expires_at"])
    assert before + timedelta(hours=1) <= expires_at
    assert expires_at <= utcnow() + timedelta(hours=1)
    [share] = rows(app)
    with app.app_context():
        token = shares.share_token(share)
        assert security.verify_password(share.password_hash, "open sesame")
    assert body["url"] == f"http://localhost/s/{token}"
    assert "password" not in body and "token_hash" not in body


def test_creating_a_folder_link_with_an_iso_expiry(app, client, headers, inbox):
    when = (utcnow() + timedelta(days=5)).replace(microsecond=0)

    response = post(
        client, headers, folder_id=inbox.id, expires_at=when.isoformat() + "Z"
    )

    assert response.status_code == 201
    body = response.get_json()
    assert body["item"]["type"] == "folder"
    assert body["has_password"] is False and body["max_downloads"] is None
    assert parse(body["expires_at"]) == when
    assert row(app, body["id"]).expires_at == when


def test_an_expiry_with_an_offset_is_stored_as_utc(app, client, headers, report):
    when = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    local = when + timedelta(hours=5, minutes=30)

    response = post(
        client, headers, file_id=report.id, expires_at=local.isoformat() + "+05:30"
    )

    assert response.status_code == 201
    assert row(app, response.get_json()["id"]).expires_at == when
    assert response.get_json()["expires_at"] == when.isoformat() + "Z"


def test_creating_an_upload_link(app, client, headers, inbox):
    response = post(
        client, headers, folder_id=inbox.id, kind="upload", expires_in=86400,
        max_file_size="100 MB", max_files=10,
    )  # fmt: skip

    assert response.status_code == 201
    body = response.get_json()
    assert body["kind"] == "upload"
    assert (body["max_file_size"], body["max_files"]) == (100_000_000, 10)
    assert body["upload_count"] == 0
    assert post(
        client, headers, folder_id=inbox.id, kind="upload", expires_in=60,
        max_file_size=5000,
    ).get_json()["max_file_size"] == 5000  # fmt: skip


def test_several_links_to_one_item_each_have_their_own_url(client, headers, report):
    urls = {
        post(client, headers, file_id=report.id, expires_in=60).get_json()["url"]
        for _ in range(3)
    }

    assert len(urls) == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Give either “file_id” or “folder_id”"),
        ({"file_id": "{file}", "folder_id": "{folder}", "expires_in": 60}, "either"),
        ({"file_id": "{file}"}, "Say when the link expires"),
        ({"file_id": "{file}", "expires_in": 60, "expires_at": "x"}, "not both"),
        ({"file_id": "{file}", "expires_in": 0}, "in the future"),
        ({"file_id": "{file}", "expires_in": -60}, "in the future"),
        ({"file_id": "{file}", "expires_in": "3600"}, "whole number of seconds"),
        ({"file_id": "{file}", "expires_in": 60.5}, "whole number of seconds"),
        ({"file_id": "{file}", "expires_in": True}, "whole number of seconds"),
        ({"file_id": "{file}", "expires_in": None}, "must have an expiry"),
        ({"file_id": "{file}", "expires_in": 91 * 86400}, "at most 90 days"),
        ({"file_id": "{file}", "expires_in": 10**12}, "too far"),
        ({"file_id": "{file}", "expires_at": "2000-01-01T00:00:00Z"}, "in the future"),
        ({"file_id": "{file}", "expires_at": "soon"}, "ISO 8601"),
        ({"file_id": "{file}", "expires_at": 1893456000}, "ISO 8601"),
        ({"file_id": "{file}", "expires_in": 60, "max_downloads": "3"}, "whole number"),
        ({"file_id": "{file}", "expires_in": 60, "max_downloads": 2.5}, "whole number"),
        ({"file_id": "{file}", "expires_in": 60, "max_downloads": 0}, "at least 1"),
        ({"file_id": "{file}", "expires_in": 60, "max_downloads": False}, "whole"),
        ({"file_id": "{file}", "expires_in": 60, "password": 1234}, "string"),
        ({"file_id": "{file}", "expires_in": 60, "note": ["a"]}, "string"),
        ({"file_id": "{file}", "expires_in": 60, "note": "x" * 1001}, "1000"),
        ({"file_id": "{file}", "expires_in": 60, "max_files": 3}, "upload links"),
        ({"file_id": "{file}", "expires_in": 60, "kind": "upload"}, "into a folder"),
        ({"file_id": "{file}", "expires_in": 60, "kind": "edit"}, "downloading or"),
        ({"file_id": "{file}", "expires_in": 60, "max_download": 3}, "Unknown field"),
        ({"file_id": 7, "expires_in": 60}, "must be an id"),
        (
            {"folder_id": "{folder}", "kind": "upload", "expires_in": 60,
             "max_downloads": 3},
            "no download limit",
        ),
        (
            {"folder_id": "{folder}", "kind": "upload", "expires_in": 60,
             "max_file_size": "big"},
            "size like",
        ),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_with_a_message(
    app, client, headers, report, inbox, body, message
):
    ids = {"{file}": report.id, "{folder}": inbox.id}
    body = {
        key: ids.get(value, value) if isinstance(value, str) else value
        for key, value in body.items()
    }

    response = post(client, headers, **body)

    assert message in error_of(response, 400)["message"]
    assert rows(app) == []


def test_a_body_that_is_not_a_json_object_is_refused(client, headers):
    response = client.post("/api/v1/shares", data="[]", headers=headers)

    error_of(response, 400)


@pytest.mark.parametrize("field", ["file_id", "folder_id"])
def test_someone_elses_missing_or_trashed_item_is_not_found(
    app, client, alice, bob, api_headers, upload, make_folder, trash_item, field
):
    folder = make_folder(alice, "Private")
    file = upload(alice, "private.txt", b"x")
    trashed = trash_item(alice, make_folder(alice, "Old"))
    trashed_file = trash_item(alice, upload(alice, "old.txt", b"x"))
    target = {"file_id": file, "folder_id": folder}[field]
    gone = {"file_id": trashed_file, "folder_id": trashed}[field]

    as_bob = post(client, api_headers(bob), **{field: target.id, "expires_in": 60})
    missing = post(client, api_headers(alice), **{field: MISSING_ID, "expires_in": 60})
    in_trash = post(client, api_headers(alice), **{field: gone.id, "expires_in": 60})

    for response in (as_bob, missing, in_trash):
        error_of(response, 404, "not_found")
        assert "private" not in response.get_data(as_text=True).lower()
    assert rows(app) == []


def test_a_folder_id_that_is_a_file_is_not_found(app, client, headers, report):
    error_of(post(client, headers, folder_id=report.id, expires_in=60), 404)
    assert rows(app) == []


def test_a_share_needs_a_caller(client, report):
    error_of(post(client, {}, file_id=report.id, expires_in=60), 401)


# --- reading ----------------------------------------------------------------------


def test_listing_shows_only_my_links_newest_first(
    app, client, headers, alice, bob, api_headers, report, upload
):
    first = post(client, headers, file_id=report.id, expires_in=60).get_json()
    with app.app_context():
        db.session.execute(
            update(ShareLink)
            .where(ShareLink.id == first["id"])
            .values(created_at=utcnow() - timedelta(hours=1))
        )
        db.session.commit()
    second = post(client, headers, file_id=report.id, expires_in=60).get_json()
    bobs_file = upload(bob, "bob.txt", b"bob")
    post(client, api_headers(bob), file_id=bobs_file.id, expires_in=60)

    listed = client.get("/api/v1/shares", headers=headers).get_json()["shares"]

    assert [share["id"] for share in listed] == [second["id"], first["id"]]
    assert listed[1]["url"] == first["url"]


def test_getting_one_link(client, headers, link):
    response = client.get(f"/api/v1/shares/{link['id']}", headers=headers)

    assert response.status_code == 200
    assert response.get_json() == link


def test_the_status_follows_the_link(app, client, headers, link, report):
    def status():
        url = f"/api/v1/shares/{link['id']}"
        return client.get(url, headers=headers).get_json()["status"]

    def set_values(**values):
        with app.app_context():
            db.session.execute(
                update(ShareLink).where(ShareLink.id == link["id"]).values(**values)
            )
            db.session.commit()

    set_values(max_downloads=2, download_units=2 * UNIT)
    assert status() == "exhausted"
    set_values(download_units=1 * UNIT, expires_at=utcnow() - timedelta(seconds=1))
    assert status() == "expired"
    set_values(expires_at=utcnow() + timedelta(hours=1))
    assert status() == "active"
    client.delete(f"/api/v1/files/{report.id}", headers=headers)
    body = client.get(f"/api/v1/shares/{link['id']}", headers=headers).get_json()
    assert body["status"] == "gone" and body["item"]["in_trash"] is True


def test_someone_elses_link_is_not_found(app, client, bob, api_headers, link):
    other = api_headers(bob)
    url = f"/api/v1/shares/{link['id']}"

    for response in (
        client.get(url, headers=other),
        client.get(url + "/log", headers=other),
        client.patch(url, json={"note": "mine"}, headers=other),
        client.patch(url, json={"max_downloads": "bad"}, headers=other),
        client.delete(url, headers=other),
    ):
        error_of(response, 404, "not_found")
        assert "report" not in response.get_data(as_text=True)
    after = row(app, link["id"])
    assert after.revoked_at is None and after.note is None


def test_a_missing_link_is_not_found(client, headers):
    for method in ("GET", "PATCH", "DELETE"):
        response = client.open(
            f"/api/v1/shares/{MISSING_ID}", method=method, json={}, headers=headers
        )
        error_of(response, 404, "not_found")


def test_the_access_log(app, client, headers, link):
    at = datetime(2030, 1, 1, 12, 0)
    with app.app_context():
        share = db.session.get(ShareLink, link["id"])
        log_access(share, "view", Visitor("192.0.2.55", "curl/8"), now=at)
        log_access(share, "download", Visitor("192.0.2.55"), "report.pdf", now=at)

    response = client.get(f"/api/v1/shares/{link['id']}/log", headers=headers)

    assert response.status_code == 200
    assert response.get_json()["entries"] == [
        {
            "at": "2030-01-01T12:00:00Z", "outcome": "download",
            "network": "192.0.2.0/24", "user_agent": "", "detail": "report.pdf",
        },
        {
            "at": "2030-01-01T12:00:00Z", "outcome": "view",
            "network": "192.0.2.0/24", "user_agent": "curl/8", "detail": None,
        },
    ]  # fmt: skip


# --- changing ---------------------------------------------------------------------


def test_extending_a_link(app, client, headers, link):
    before = utcnow().replace(microsecond=0)

    response = patch(client, headers, link["id"], expires_in=7 * 86400)

    assert response.status_code == 200
    expires_at = parse(response.get_json()["expires_at"])
    assert before + timedelta(days=7) <= expires_at
    assert expires_at <= utcnow() + timedelta(days=7)
    when = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    response = patch(client, headers, link["id"], expires_at=when.isoformat() + "Z")
    assert parse(response.get_json()["expires_at"]) == when


def test_an_expired_link_comes_back_with_a_new_expiry(app, client, headers, link):
    with app.app_context():
        db.session.execute(
            update(ShareLink)
            .where(ShareLink.id == link["id"])
            .values(expires_at=utcnow() - timedelta(days=1))
        )
        db.session.commit()

    response = patch(client, headers, link["id"], expires_in=60)

    assert response.get_json()["status"] == "active"


def test_setting_changing_and_removing_the_password(app, client, headers, link):
    body = patch(client, headers, link["id"], password="first").get_json()
    assert body["has_password"] is True
    patch(client, headers, link["id"], password="second")
    with app.app_context():
        hashed = db.session.get(ShareLink, link["id"]).password_hash
        assert security.verify_password(hashed, "second")
        assert not security.verify_password(hashed, "first")

    body = patch(client, headers, link["id"], password=None).get_json()

    assert body["has_password"] is False
    assert row(app, link["id"]).password_hash is None


def test_changing_and_removing_the_limit_and_note(app, client, headers, link):
    body = patch(client, headers, link["id"], max_downloads=4, note="Hi").get_json()
    assert (body["max_downloads"], body["note"]) == (4, "Hi")

    body = patch(client, headers, link["id"], max_downloads=None, note=None).get_json()

    assert (body["max_downloads"], body["note"]) == (None, None)


def test_changing_an_upload_links_limits(client, headers, inbox):
    made = post(
        client, headers, folder_id=inbox.id, kind="upload", expires_in=60
    ).get_json()

    body = patch(
        client, headers, made["id"], max_files=3, max_file_size="1 GiB"
    ).get_json()

    assert (body["max_files"], body["max_file_size"]) == (3, 1024**3)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"expires_in": 0}, "in the future"),
        ({"expires_at": None}, "must have an expiry"),
        ({"expires_in": 60, "expires_at": "2030-01-01T00:00:00Z"}, "not both"),
        ({"expires_in": 100 * 86400}, "at most 90 days"),
        ({"max_downloads": "ten"}, "whole number"),
        ({"max_files": 2}, "upload links"),
        ({"file_id": MISSING_ID}, "Unknown field"),
        ({"kind": "upload"}, "Unknown field"),
        ({"note": 5, "password": "changed"}, "string"),
        ({"password": "changed", "max_downloads": -1}, "at least 1"),
    ],
)
def test_bad_changes_are_a_400_and_change_nothing(
    app, client, headers, link, body, message
):
    before = row(app, link["id"])

    response = patch(client, headers, link["id"], **body)

    assert message in error_of(response, 400)["message"]
    after = row(app, link["id"])
    assert (after.expires_at, after.password_hash, after.max_downloads) == (
        before.expires_at,
        before.password_hash,
        before.max_downloads,
    )


# --- revoking ---------------------------------------------------------------------


def test_deleting_revokes_but_keeps_the_link(app, client, headers, link):
    response = client.delete(f"/api/v1/shares/{link['id']}", headers=headers)

    assert response.status_code == 204
    assert response.get_data() == b""
    body = client.get(f"/api/v1/shares/{link['id']}", headers=headers).get_json()
    assert body["status"] == "revoked" and body["revoked_at"]
    assert body["url"] == link["url"]
    assert row(app, link["id"]).revoked_at is not None
    # Again is fine; changing it is not: revoking is for good.
    assert (
        client.delete(f"/api/v1/shares/{link['id']}", headers=headers).status_code
        == 204
    )
    error_of(patch(client, headers, link["id"], expires_in=60), 409, "conflict")


def test_the_browser_session_needs_the_csrf_header(client, auth, alice, report):
    auth.login()

    response = client.post(
        "/api/v1/shares", json={"file_id": report.id, "expires_in": 60}
    )

    error_of(response, 400, "csrf_failed")


def test_disabled_owners_links_are_gone(app, client, headers, link, alice):
    with app.app_context():
        owner = db.session.get(User, alice.id)
        share = db.session.get(ShareLink, link["id"])
        assert shares.status(share) == "active"
        owner.disabled = True
        assert shares.status(share) == "gone"
