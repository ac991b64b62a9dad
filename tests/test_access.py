"""Access matrix: every URL that takes an object id, for every kind of caller."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token_from
from tests.factories import image_bytes
from tests.helpers import node
from vault.extensions import db
from vault.models import ShareLink, User, utcnow
from vault.services import shares

MISSING_ID = "0" * 32

# (kind of object, method, url template, form or JSON body, owner's status).
# "{id}" is replaced by the id of alice's object of that kind.
BROWSER_URLS = [
    ("file", "GET", "/files/{id}/download", None, 200),
    ("file", "GET", "/files/{id}/view", None, 200),
    ("file", "GET", "/files/{id}/preview", None, 200),
    ("file", "GET", "/files/{id}/thumbnail", None, 200),
    ("file", "GET", "/items/{id}/rename", None, 200),
    ("file", "POST", "/items/{id}/rename", {"name": "renamed.png"}, 302),
    ("file", "GET", "/move?ids={id}", None, 200),
    ("file", "POST", "/move", {"ids": "{id}", "target": ""}, 302),
    ("file", "POST", "/items/trash", {"id": "{id}"}, 302),
    ("file", "GET", "/zip?ids={id}", None, 200),
    ("folder", "GET", "/folders/{id}", None, 200),
    ("folder", "GET", "/folders/{id}/zip", None, 200),
    ("folder", "GET", "/items/{id}/rename", None, 200),
    ("folder", "POST", "/items/{id}/rename", {"name": "Renamed"}, 302),
    ("folder", "GET", "/move?ids={id}", None, 200),
    ("folder", "POST", "/items/trash", {"ids": "{id}"}, 302),
    ("folder", "POST", "/folders", {"name": "Inside", "parent_id": "{id}"}, 302),
    ("file", "GET", "/shares/new?node_id={id}", None, 200),
    ("file", "POST", "/shares/new?node_id={id}", {"expires": "1d"}, 302),
    ("folder", "GET", "/shares/new?node_id={id}", None, 200),
    ("folder", "POST", "/shares/new?node_id={id}", {"kind": "upload"}, 302),
    ("trashed", "POST", "/trash/{id}/restore", {}, 302),
    ("trashed", "GET", "/trash/{id}/delete", None, 200),
    ("trashed", "POST", "/trash/{id}/delete", {}, 302),
]
API_URLS = [
    ("file", "GET", "/api/v1/files/{id}", None, 200),
    ("file", "GET", "/api/v1/files/{id}/content", None, 200),
    ("file", "PATCH", "/api/v1/files/{id}", {"name": "renamed.png"}, 200),
    ("file", "DELETE", "/api/v1/files/{id}", None, 204),
    ("folder", "GET", "/api/v1/folders/{id}", None, 200),
    ("folder", "PATCH", "/api/v1/folders/{id}", {"name": "Renamed"}, 200),
    ("folder", "DELETE", "/api/v1/folders/{id}", None, 204),
    ("folder", "POST", "/api/v1/folders", {"name": "Inside", "parent_id": "{id}"}, 201),
    ("file", "POST", "/api/v1/shares", {"file_id": "{id}", "expires_in": 60}, 201),
    ("folder", "POST", "/api/v1/shares", {"folder_id": "{id}", "expires_in": 60}, 201),
    ("trashed", "POST", "/api/v1/trash/{id}/restore", None, 200),
    ("trashed", "DELETE", "/api/v1/trash/{id}", None, 204),
]
# "wrong state": a live object where a trashed one is expected, and the reverse.
CALLERS = ["anonymous", "other user", "owner", "missing id", "wrong state"]


@pytest.fixture
def alices(alice, upload, make_folder, trash_item):
    """Alice's objects by kind, and for each the object in the wrong state."""
    live_file = upload(alice, "secret.png", image_bytes())
    live_folder = make_folder(alice, "Secret folder")
    trashed_file = trash_item(alice, upload(alice, "trashed-secret.png", image_bytes()))
    trashed_folder = trash_item(alice, make_folder(alice, "Trashed secret folder"))
    return {
        "file": (live_file, trashed_file),
        "folder": (live_folder, trashed_folder),
        "trashed": (trashed_file, live_file),
    }


def target_id(alices, kind, caller) -> str:
    right, wrong = alices[kind]
    return {"missing id": MISSING_ID, "wrong state": wrong.id}.get(caller, right.id)


def filled(template, object_id):
    if isinstance(template, str):
        return template.format(id=object_id)
    if isinstance(template, dict):
        return {key: filled(value, object_id) for key, value in template.items()}
    return template


def state_of(app, alices) -> list:
    rows = [node(app, item.id) for pair in alices.values() for item in pair]
    return [(row.name, row.parent_id, row.trashed_at) for row in rows] + links(app)


def links(app) -> list:
    """Every share link and what can be changed about it."""
    with app.app_context():
        return [
            (link.id, link.expires_at, link.revoked_at, link.password_hash,
             link.max_downloads, link.note)
            for link in db.session.scalars(select(ShareLink).order_by(ShareLink.id))
        ]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "method", "url", "data", "owner_status"), BROWSER_URLS
)
@pytest.mark.parametrize("caller", CALLERS)
def test_browser_urls(
    app, client, auth, bob, alices, caller, kind, method, url, data, owner_status
):
    object_id = target_id(alices, kind, caller)
    if caller != "anonymous":
        auth.login("bob@example.com" if caller == "other user" else "alice@example.com")
    if method == "POST":
        page = client.get("/login" if caller == "anonymous" else "/account")
        data = {**filled(data, object_id), "csrf_token": csrf_token_from(page.text)}
    before = state_of(app, alices)

    response = client.open(filled(url, object_id), method=method, data=data)

    if caller == "anonymous":
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
    elif caller == "owner":
        assert response.status_code == owner_status
        return
    else:
        assert response.status_code == 404
        assert "secret" not in response.get_data(as_text=True).lower()
    assert state_of(app, alices) == before


@pytest.mark.parametrize(("kind", "method", "url", "body", "owner_status"), API_URLS)
@pytest.mark.parametrize("caller", CALLERS)
def test_api_urls(
    app, client, alice, bob, api_headers, alices, caller, kind, method, url, body,
    owner_status,
):  # fmt: skip
    object_id = target_id(alices, kind, caller)
    headers = {}
    if caller != "anonymous":
        headers = api_headers(bob if caller == "other user" else alice)
    before = state_of(app, alices)

    response = client.open(
        filled(url, object_id),
        method=method,
        headers=headers,
        json=filled(body, object_id),
    )

    expected = {"anonymous": 401, "owner": owner_status}.get(caller, 404)
    assert response.status_code == expected
    if caller == "owner":
        return
    assert response.get_json()["error"]["code"] in ("unauthorized", "not_found")
    assert "secret" not in response.get_data(as_text=True).lower()
    assert state_of(app, alices) == before


# Share links: (method, url, form or JSON body, owner's status). A link has no
# "wrong state": its owner may look at and revoke it whatever its status.
SHARE_URLS = [
    ("GET", "/shares/{id}", None, 200),
    ("POST", "/shares/{id}/expiry", {"expires": "30d"}, 302),
    ("POST", "/shares/{id}/password", {"password": "new", "save": "1"}, 302),
    ("POST", "/shares/{id}/limits", {"max_downloads": "9", "note": "x"}, 302),
    ("POST", "/shares/{id}/revoke", {}, 302),
    ("GET", "/api/v1/shares/{id}", None, 200),
    ("GET", "/api/v1/shares/{id}/log", None, 200),
    ("PATCH", "/api/v1/shares/{id}", {"note": "x", "password": None}, 200),
    ("DELETE", "/api/v1/shares/{id}", None, 204),
]


@pytest.fixture
def alices_link(app, alice, alices):
    with app.app_context():
        link = shares.create_share(
            db.session.get(User, alice.id), alices["file"][0].id,
            expires_at=utcnow() + timedelta(days=1), password="secret",
            max_downloads=3, note="Secret note",
        )  # fmt: skip
        return link.id


@pytest.mark.parametrize(("method", "url", "data", "owner_status"), SHARE_URLS)
@pytest.mark.parametrize("caller", ["anonymous", "other user", "owner", "missing id"])
def test_share_urls(
    app, client, auth, alice, bob, api_headers, alices_link, caller, method, url,
    data, owner_status,
):  # fmt: skip
    link_id = MISSING_ID if caller == "missing id" else alices_link
    user = {"anonymous": None, "other user": bob}.get(caller, alice)
    api = url.startswith("/api/")
    options = {"method": method}
    if api:
        options["json"] = data
        if user:
            options["headers"] = api_headers(user)
    else:
        if user:
            auth.login(user.email)
        if method == "POST":
            page = client.get("/account" if user else "/login")
            options["data"] = {**data, "csrf_token": csrf_token_from(page.text)}
    before = links(app)

    response = client.open(url.format(id=link_id), **options)

    if caller == "owner":
        assert response.status_code == owner_status
        return
    if caller == "anonymous":
        assert response.status_code == (401 if api else 302)
    else:
        assert response.status_code == 404
        assert "secret" not in response.get_data(as_text=True).lower()
    assert links(app) == before


def test_someone_elses_file_survives_their_attempts(
    client, alice, bob, api_headers, upload
):
    alices_file = upload(alice, "secret.txt", b"alice's secret")
    client.delete(f"/api/v1/files/{alices_file.id}", headers=api_headers(bob))
    response = client.get(
        f"/api/v1/files/{alices_file.id}/content", headers=api_headers(alice)
    )
    assert response.get_data() == b"alice's secret"


def test_file_ids_are_random_not_sequential(alice, upload):
    ids = [upload(alice, f"f{n}.txt", b"x").id for n in range(3)]
    assert all(len(file_id) == 32 for file_id in ids)
    assert len({file_id[:8] for file_id in ids}) == 3
