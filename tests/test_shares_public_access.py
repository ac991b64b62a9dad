"""Every route of a link against every state a link can be in.

A link works, asks for its password, or is gone (410) or unknown (404); a
route never serves names, listings or bytes to someone who may not see them.
"""

from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.conftest import csrf_token_from
from tests.factories import back_off_link
from tests.test_shares_public import (
    change_link,
    make_holiday,
    make_link,
    outcomes,
    unlock,
)
from vault.extensions import db
from vault.models import User, utcnow
from vault.services import shares, throttle, trash
from vault.services.share_downloads import UNIT

pytestmark = pytest.mark.bytes

PASSWORD = "open sesame"
NOTE = "Secret note for the visitor"
NAMES = ("Holiday", "beach.png", "plan.md", "Trip", "day.txt", NOTE)

# Every route of a folder link, and what an open link answers.
FOLDER_ROUTES = {
    "page": ("", 200),
    "subfolder": ("/f/{trip}", 200),
    "zip": ("/zip", 200),
    "subfolder zip": ("/f/{trip}/zip", 200),
    "file page": ("/files/{day}", 200),
    "file download": ("/files/{day}/download", 200),
    "view": ("/files/{day}/view", 200),
    "thumbnail": ("/files/{beach}/thumbnail", 200),
}
FILE_ROUTES = {
    "page": ("", 200),
    "download": ("/download", 200),
    "view": ("/files/{beach}/view", 200),
    "thumbnail": ("/files/{beach}/thumbnail", 200),
}


@pytest.fixture
def holiday(alice, upload, make_folder):
    return make_holiday(alice, upload, make_folder)


def _urls(link, routes, holiday) -> dict[str, tuple[str, int]]:
    ids = {name: holiday[name].id for name in ("trip", "day", "beach")}
    return {
        name: (link.url + path.format(**ids), status)
        for name, (path, status) in routes.items()
    }


def _link(app, alice, holiday, kind, **options):
    target = holiday["folder"] if kind == "folder" else holiday["beach"]
    routes = FOLDER_ROUTES if kind == "folder" else FILE_ROUTES
    link = make_link(app, alice, target, note=NOTE, **options)
    return link, _urls(link, routes, holiday)


def _fetch(client, url):
    response = client.get(url)
    return response.status_code, response.get_data(as_text=True)


KINDS = ["folder", "file"]


@pytest.mark.parametrize("kind", KINDS)
def test_an_open_link_serves_every_route(app, client, alice, holiday, kind):
    _, urls = _link(app, alice, holiday, kind)

    for name, (url, status) in urls.items():
        assert client.get(url).status_code == status, name


@pytest.mark.parametrize("kind", KINDS)
def test_a_password_link_serves_nothing_before_unlocking(
    app, client, alice, holiday, kind
):
    _, urls = _link(app, alice, holiday, kind, password=PASSWORD)

    for name, (url, _) in urls.items():
        status, body = _fetch(client, url)
        assert status == (200 if name == "page" else 401), name
        assert "This link is protected" in body, name
        for secret in NAMES:
            assert secret not in body, (name, secret)


@pytest.mark.parametrize("kind", KINDS)
def test_a_wrong_password_opens_nothing(app, client, alice, holiday, kind):
    link, urls = _link(app, alice, holiday, kind, password=PASSWORD)

    response = unlock(client, link, "not it")

    assert response.status_code == 401
    assert "That password is not right." in response.get_data(as_text=True)
    for name, (url, _) in urls.items():
        if name != "page":
            assert client.get(url).status_code == 401, name


@pytest.mark.parametrize("kind", KINDS)
def test_the_right_password_opens_every_route(app, client, alice, holiday, kind):
    link, urls = _link(app, alice, holiday, kind, password=PASSWORD)

    response = unlock(client, link, PASSWORD)

    assert response.status_code == 302
    assert response.headers["Location"] == link.url
    for name, (url, status) in urls.items():
        assert client.get(url).status_code == status, name
    assert "unlock" in outcomes(app, link)


def test_unlocking_on_a_page_inside_returns_there(app, client, alice, holiday):
    link, urls = _link(app, alice, holiday, "folder", password=PASSWORD)
    url = urls["subfolder"][0]

    page = client.get(url).get_data(as_text=True)
    response = client.post(
        f"{link.url}/unlock",
        data={
            "password": PASSWORD,
            "csrf_token": csrf_token_from(page),
            "next": url,
        },
    )

    assert response.headers["Location"] == url


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/s/x"])
def test_unlocking_never_leads_off_the_link(app, client, alice, holiday, target):
    link, _ = _link(app, alice, holiday, "folder", password=PASSWORD)
    page = client.get(link.url).get_data(as_text=True)

    response = client.post(
        f"{link.url}/unlock",
        data={
            "password": PASSWORD,
            "csrf_token": csrf_token_from(page),
            "next": target,
        },
    )

    assert response.headers["Location"] == link.url


def test_the_password_form_needs_its_csrf_token(app, client, alice, holiday):
    link, urls = _link(app, alice, holiday, "file", password=PASSWORD)

    response = client.post(f"{link.url}/unlock", data={"password": PASSWORD})

    assert response.status_code == 400
    assert client.get(urls["download"][0]).status_code == 401


def test_unlocking_one_link_does_not_open_another(app, client, alice, holiday):
    first, _ = _link(app, alice, holiday, "file", password=PASSWORD)
    second, urls = _link(app, alice, holiday, "file", password=PASSWORD)

    unlock(client, first, PASSWORD)

    assert client.get(f"{first.url}/download").status_code == 200
    for name, (url, _) in urls.items():
        if name != "page":
            assert client.get(url).status_code == 401, name


def test_a_new_password_locks_the_link_again(app, client, alice, holiday):
    link, urls = _link(app, alice, holiday, "file", password=PASSWORD)
    unlock(client, link, PASSWORD)
    with app.app_context():
        shares.update_share(db.session.get(User, alice.id), link.id, password="new")

    assert client.get(urls["download"][0]).status_code == 401


def test_an_unlock_lives_in_this_browser_only(app, client, alice, holiday):
    link, urls = _link(app, alice, holiday, "file", password=PASSWORD)
    unlock(client, link, PASSWORD)

    stranger = app.test_client()

    assert stranger.get(urls["download"][0]).status_code == 401


def test_wrong_passwords_slow_down_the_link_from_every_address(
    app, client, alice, holiday
):
    link, _ = _link(app, alice, holiday, "file", password=PASSWORD)
    other, _ = _link(app, alice, holiday, "file", password=PASSWORD)
    guesser = {"environ_base": {"REMOTE_ADDR": "198.51.100.9"}}
    with app.app_context():
        back_off_link(link.id, "198.51.100.9", utcnow())

    waiting = unlock(client, link, PASSWORD, **guesser)
    elsewhere = unlock(app.test_client(), link, PASSWORD)
    same_address = unlock(app.test_client(), other, PASSWORD, **guesser)

    assert waiting.status_code == 429
    assert "Try again in 15 minutes" in waiting.get_data(as_text=True)
    assert int(waiting.headers["Retry-After"]) > 0
    assert elsewhere.status_code == 429
    # Another link, from the very same address, is not held back.
    assert same_address.status_code == 302
    assert "throttled" in outcomes(app, link)


def test_an_address_guessing_many_links_is_locked_out(app, client, alice, holiday):
    link, _ = _link(app, alice, holiday, "file", password=PASSWORD)
    limit = app.config["LOGIN_ADDRESS_MAX_FAILURES"]
    spread = app.config["LOGIN_ADDRESS_MIN_ACCOUNTS"]
    with app.app_context():
        for number in range(limit):
            keys = throttle.share_password_keys(f"link{number % spread}", "192.0.2.9")
            throttle.record(keys, utcnow())
        db.session.commit()
    guesser = {"environ_base": {"REMOTE_ADDR": "192.0.2.9"}}

    assert unlock(client, link, PASSWORD, **guesser).status_code == 429
    assert unlock(app.test_client(), link, PASSWORD).status_code == 302


# ---------- Links that stopped working ----------


def _expired(app, link, alice, holiday):
    change_link(app, link, expires_at=utcnow() - timedelta(minutes=1))


def _revoked(app, link, alice, holiday):
    change_link(app, link, revoked_at=utcnow())


def _exhausted(app, link, alice, holiday):
    change_link(app, link, max_downloads=2, download_units=2 * UNIT)


def _trashed(app, link, alice, holiday):
    with app.app_context():
        trash.trash(db.session.get(User, alice.id), [holiday["folder"].id])


def _deleted(app, link, alice, holiday):
    with app.app_context():
        owner = db.session.get(User, alice.id)
        trash.trash(owner, [holiday["folder"].id])
        trash.delete_forever(owner, holiday["folder"].id)


def _owner_disabled(app, link, alice, holiday):
    with app.app_context():
        db.session.execute(
            update(User).where(User.id == alice.id).values(disabled=True)
        )
        db.session.commit()


ENDINGS = {
    "expired": (_expired, "This link has expired."),
    "revoked": (_revoked, "The owner turned this link off."),
    "exhausted": (_exhausted, "This link has reached its download limit."),
    "trashed": (_trashed, "What this link shared is no longer available."),
    "deleted": (_deleted, "What this link shared is no longer available."),
    "owner disabled": (
        _owner_disabled,
        "What this link shared is no longer available.",
    ),
}


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("password", [None, PASSWORD], ids=["open", "password"])
def test_a_link_that_stopped_working_is_gone_on_every_route(
    app, client, alice, holiday, ending, kind, password
):
    link, urls = _link(app, alice, holiday, kind, password=password)
    if password:
        unlock(client, link, password)
    end, reason = ENDINGS[ending]
    end(app, link, alice, holiday)

    for name, (url, _) in urls.items():
        status, body = _fetch(client, url)
        assert status == 410, name
        assert "This link no longer works" in body
        assert reason in body
        for secret in NAMES:
            assert secret not in body, (name, secret)
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    data = {"password": PASSWORD, "csrf_token": token}
    assert client.post(f"{link.url}/unlock", data=data).status_code == 410


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_tokens_are_not_found_on_every_route(app, client, alice, holiday, kind):
    link, urls = _link(app, alice, holiday, kind)
    wrong = link.token[:-1] + ("A" if link.token[-1] != "A" else "B")

    for name, (url, _) in urls.items():
        status, body = _fetch(client, url.replace(link.token, wrong))
        assert status == 404, name
        for secret in NAMES:
            assert secret not in body, (name, secret)


def test_the_owner_signed_in_gets_no_more_than_a_visitor(
    app, client, as_alice, holiday
):
    link, urls = _link(app, as_alice, holiday, "file", password=PASSWORD)

    assert client.get(urls["download"][0]).status_code == 401


def test_unlocking_works_over_https_without_a_referer(app, client, alice, holiday):
    # Share pages send no Referer (Referrer-Policy: no-referrer), so the CSRF
    # check must not depend on one, as Flask-WTF's does over HTTPS.
    link, urls = _link(app, alice, holiday, "file", password=PASSWORD)
    secure = {"base_url": "https://vault.example"}
    page = client.get(link.url, **secure).get_data(as_text=True)

    response = client.post(
        f"{link.url}/unlock",
        data={"password": PASSWORD, "csrf_token": csrf_token_from(page)},
        **secure,
    )

    assert response.status_code == 302
    assert client.get(urls["download"][0], **secure).status_code == 200
