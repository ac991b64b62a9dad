"""Share links as their owner sees them: creating, listing, changing, revoking."""

import hashlib
import html
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, update

from tests.helpers import post_form
from vault import security
from vault.errors import BadRequest, Conflict, NotFound
from vault.extensions import db
from vault.models import Node, ShareLink, User, utcnow
from vault.services import files, shares, trash
from vault.services.share_access import Visitor, log_access
from vault.services.share_downloads import UNIT
from vault.shares.display import relative_time

pytestmark = pytest.mark.bytes

NOW = datetime(2030, 1, 1, 12, 0)
LINK = re.compile(r'id="share-url"[^>]*value="([^"]+)"')


@pytest.fixture
def app_config(app_config, request):
    """Let a test change the configuration with indirect parametrization."""
    app_config.update(getattr(request, "param", {}))
    return app_config


@pytest.fixture
def report(alice, upload):
    return upload(alice, "report.pdf", b"%PDF-1.4\n%%EOF\n")


@pytest.fixture
def inbox(alice, make_folder):
    return make_folder(alice, "Inbox")


@pytest.fixture
def make_share(app):
    """Make a link through the real service; returns it detached."""

    def make(user, node, **options):
        options.setdefault("expires_at", utcnow() + timedelta(days=7))
        with app.app_context():
            share = shares.create_share(
                db.session.get(User, user.id), node.id, **options
            )
            return _detached(share)

    return make


def _detached(share: ShareLink) -> ShareLink:
    db.session.refresh(share)
    db.session.expunge(share)
    return share


def stored(app, share_id: str) -> ShareLink | None:
    with app.app_context():
        share = db.session.get(ShareLink, share_id)
        return share and _detached(share)


def all_shares(app) -> list[ShareLink]:
    with app.app_context():
        return [_detached(row) for row in db.session.scalars(select(ShareLink)).all()]


def change(app, share, **values) -> None:
    """Set columns directly, as time passing or visitors would."""
    with app.app_context():
        db.session.execute(
            update(ShareLink).where(ShareLink.id == share.id).values(**values)
        )
        db.session.commit()


def token_of(app, share) -> str:
    with app.app_context():
        return shares.share_token(share)


def status_of(app, share, now=None) -> str:
    with app.app_context():
        return shares.status(db.session.get(ShareLink, share.id), now)


def password_ok(app, share, password: str) -> bool:
    with app.app_context():
        row = db.session.get(ShareLink, share.id)
        return security.verify_password(row.password_hash, password)


def text(page) -> str:
    """A page's visible text, roughly: tags out, whitespace squeezed."""
    body = page.get_data(as_text=True) if hasattr(page, "get_data") else page
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def create(client, node, **fields):
    data = {"expires": "7d", **fields}
    return post_form(client, f"/shares/new?node_id={node.id}", data)


# --- creating ---------------------------------------------------------------------


def test_every_row_of_a_folder_offers_to_share_it(client, as_alice, report, inbox):
    page = client.get("/").text

    for node in (report, inbox):
        assert (
            f'href="/shares/new?node_id={node.id}" class="action" data-dialog' in page
        )


def test_the_new_link_form_works_as_a_page_and_as_a_dialog(client, as_alice, report):
    response = client.get(f"/shares/new?node_id={report.id}")

    assert response.status_code == 200
    assert "data-dialog-content" in response.text
    assert 'type="datetime-local"' in response.text
    assert "(UTC)" in response.text
    for preset in ("1 hour", "1 day", "7 days", "30 days", "Date and time"):
        assert f"<span>{preset}</span>" in response.text


def test_only_folders_can_take_uploads(app, client, as_alice, report, inbox):
    assert 'value="upload"' not in client.get(f"/shares/new?node_id={report.id}").text
    assert 'value="upload"' in client.get(f"/shares/new?node_id={inbox.id}").text

    response = create(client, report, kind="upload")

    assert response.status_code == 400
    assert all_shares(app) == []


def test_creating_a_link_shows_it_with_a_copy_button(app, client, as_alice, report):
    before = utcnow()
    response = create(
        client, report, expires="1d", password="open sesame", max_downloads="3",
        note="  For the board.\nRead it first.  ",
    )  # fmt: skip

    [share] = all_shares(app)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/shares/{share.id}"
    assert share.kind == "download"
    assert share.node_id == report.id and share.owner_id == as_alice.id
    assert before + timedelta(days=1) <= share.expires_at
    assert share.expires_at <= utcnow() + timedelta(days=1)
    assert share.max_downloads == 3 and share.download_units == 0 * UNIT
    assert share.note == "For the board.\nRead it first."
    assert password_ok(app, share, "open sesame")
    page = client.get(response.headers["Location"])
    assert "Link created" in page.text
    assert LINK.search(page.text).group(1) == "http://localhost/s/" + token_of(
        app, share
    )
    assert 'data-copy-from="#share-url"' in page.text


def test_a_custom_expiry_is_taken_as_utc(app, client, as_alice, report):
    when = (utcnow() + timedelta(days=10)).replace(second=0, microsecond=0)

    response = create(
        client, report, expires="custom", expires_on=when.strftime("%Y-%m-%dT%H:%M")
    )

    assert response.status_code == 302
    assert all_shares(app)[0].expires_at == when


def test_an_upload_link_takes_a_size_and_a_number_of_files(
    app, client, as_alice, inbox
):
    response = create(
        client, inbox, kind="upload", max_file_size="100 MB", max_files="5",
        max_downloads="9",  # a download limit left in the form does not apply
    )  # fmt: skip

    [share] = all_shares(app)
    assert response.status_code == 302
    assert share.kind == "upload"
    assert (share.max_file_size, share.max_files) == (100_000_000, 5)
    assert share.max_downloads is None
    assert "File request to “Inbox”" in text(client.get(f"/shares/{share.id}"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"expires": "custom"}, "Pick a date and time"),
        ({"expires": "custom", "expires_on": "2000-01-01T10:00"}, "in the future"),
        ({"expires": "custom", "expires_on": "2999-01-01T10:00"}, "at most 90 days"),
        ({"expires": "custom", "expires_on": "next tuesday"}, "Not a valid"),
        ({"expires": "forever"}, "Not a valid choice"),
        ({"max_downloads": "0"}, "at least 1"),
        ({"max_downloads": "lots"}, "Not a valid integer"),
        ({"note": "x" * 1001}, "1000 characters"),
        ({"note": "bad\x00note"}, "not allowed"),
        ({"password": "p" * 1025}, "1024 characters"),
    ],
)
def test_bad_input_is_refused_with_a_message(
    app, client, as_alice, report, fields, message
):
    response = create(client, report, **fields)

    assert response.status_code == 400
    assert message in text(response)
    assert all_shares(app) == []


def test_bad_sizes_on_an_upload_link_are_refused(app, client, as_alice, inbox):
    for size in ("huge", "0"):
        response = create(client, inbox, kind="upload", max_file_size=size)
        assert response.status_code == 400
    assert "like “100 MB”" in text(
        create(client, inbox, kind="upload", max_file_size="x")
    )
    assert all_shares(app) == []


@pytest.mark.parametrize("app_config", [{"SHARE_MAX_DAYS": 7}], indirect=True)
def test_presets_beyond_the_maximum_are_not_offered(app, client, as_alice, report):
    page = client.get(f"/shares/new?node_id={report.id}").text

    assert "<span>7 days</span>" in page
    assert "<span>30 days</span>" not in page
    assert "at most 7 days ahead" in page
    assert create(client, report, expires="30d").status_code == 400
    assert all_shares(app) == []


def test_someone_elses_or_a_trashed_item_cannot_be_shared(
    app, client, auth, alice, bob, report, trash_item, upload
):
    trashed = trash_item(alice, upload(alice, "old.txt", b"old"))
    auth.login("bob@example.com")

    for node_id in (report.id, trashed.id, "0" * 32, "nonsense", ""):
        assert client.get(f"/shares/new?node_id={node_id}").status_code == 404
        response = post_form(
            client, f"/shares/new?node_id={node_id}", {"expires": "1d"}
        )
        assert response.status_code == 404
    assert client.get("/shares/new").status_code == 404
    assert all_shares(app) == []


# --- the token --------------------------------------------------------------------


def test_the_token_is_not_stored_only_its_hash(app, alice, report, make_share):
    share = make_share(alice, report)
    token = token_of(app, share)

    with app.app_context():
        row = db.session.get(ShareLink, share.id)
        values = [getattr(row, c.key) for c in inspect(ShareLink).mapper.column_attrs]
    assert not any(token in str(value) for value in values)
    assert share.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # 256 bits from the server's secret, URL-safe.
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)


def test_the_token_is_stable_and_differs_per_link(app, alice, report, make_share):
    first, second = make_share(alice, report), make_share(alice, report)

    assert token_of(app, first) == token_of(app, first)
    assert token_of(app, stored(app, first.id)) == token_of(app, first)
    assert token_of(app, first) != token_of(app, second)


def test_the_token_depends_on_the_secret_key(app, alice, report, make_share):
    share = make_share(alice, report)
    token = token_of(app, share)

    app.config["SECRET_KEY"] = "another secret"

    assert token_of(app, share) != token


# --- my shares --------------------------------------------------------------------


def test_my_shares_starts_empty(client, as_alice):
    response = client.get("/shares/")

    assert response.status_code == 200
    assert "You have not shared anything yet." in response.text
    assert 'href="/shares/" aria-current="page"' in response.text


def test_my_shares_lists_each_link_with_its_status(
    app, client, as_alice, report, inbox, upload, make_share, trash_item
):
    active = make_share(as_alice, report, max_downloads=5, password="pw")
    change(app, active, download_units=2 * UNIT)
    expired = make_share(as_alice, report)
    change(app, expired, expires_at=utcnow() - timedelta(hours=2))
    revoked = make_share(as_alice, report)
    with app.app_context():
        shares.revoke_share(db.session.get(User, as_alice.id), revoked.id)
    exhausted = make_share(as_alice, report, max_downloads=1)
    change(app, exhausted, download_units=1 * UNIT)
    old = upload(as_alice, "old.txt", b"old")
    gone = make_share(as_alice, old)
    trash_item(as_alice, old)
    requests = make_share(as_alice, inbox, kind="upload", max_files=20)
    change(app, requests, upload_count=3)

    page = client.get("/shares/").text
    rows = {row_id: row for row_id, row in _rows(page)}

    assert len(rows) == 6
    assert "badge-active" in rows[active.id] and "2 of 5 downloads" in rows[active.id]
    assert "password" in rows[active.id]
    assert "badge-expired" in rows[expired.id] and "2 hours ago" in rows[expired.id]
    assert "badge-revoked" in rows[revoked.id] and "Revoked" in rows[revoked.id]
    assert "badge-exhausted" in rows[exhausted.id]
    assert "1 of 1 download" in rows[exhausted.id]
    assert "badge-gone" in rows[gone.id] and "in the trash" in rows[gone.id]
    assert "badge-active" in rows[requests.id]
    assert "3 of 20 files uploaded" in rows[requests.id]
    assert "Upload link" in rows[requests.id]


def _rows(page: str):
    """(share id, row html) for each row of My shares."""
    for row in re.findall(r'<tr class="share-row.*?</tr>', page, re.S):
        yield re.search(r'href="/shares/([0-9a-f]{32})"', row).group(1), row


def test_my_shares_shows_expiry_relative_and_exact(
    app, client, as_alice, report, make_share
):
    share = make_share(as_alice, report, expires_at=utcnow() + timedelta(days=3))
    change(app, share, expires_at=datetime(2031, 5, 6, 7, 8))
    page = text(client.get("/shares/"))

    assert "2031-05-06 07:08 UTC" in page
    assert re.search(r"in \d+ (months|years)", page)
    change(app, share, expires_at=utcnow() + timedelta(days=3, minutes=5))
    assert "in 3 days" in text(client.get("/shares/"))


def test_my_shares_links_each_item_to_its_folder(
    app, client, as_alice, inbox, upload, make_share
):
    inside = upload(as_alice, "inside.txt", b"x", folder_id=inbox.id)
    make_share(as_alice, inside)
    make_share(as_alice, inbox)

    page = client.get("/shares/").text

    assert f'<a href="/folders/{inbox.id}">inside.txt</a>' in page
    assert f'<a href="/folders/{inbox.id}">Inbox</a>' in page


def test_a_deleted_item_shows_as_deleted(app, client, as_alice, report, make_share):
    share = make_share(as_alice, report)
    with app.app_context():
        user = db.session.get(User, as_alice.id)
        trash.trash(user, [report.id])
        trash.delete_forever(user, report.id)

    assert stored(app, share.id).node_id is None
    row = dict(_rows(client.get("/shares/").text))[share.id]
    assert "Deleted item" in row and "badge-gone" in row
    assert "a deleted item" in text(client.get(f"/shares/{share.id}"))


def test_my_shares_has_only_my_links(app, client, auth, alice, bob, report, make_share):
    make_share(alice, report)
    auth.login("bob@example.com")

    page = client.get("/shares/").text

    assert "report.pdf" not in page
    assert "You have not shared anything yet." in page


def test_the_list_offers_every_link_to_copy_again(
    app, client, as_alice, report, make_share
):
    first, second = make_share(as_alice, report), make_share(as_alice, report)

    page = client.get("/shares/").text

    for share in (first, second):
        url = "http://localhost/s/" + token_of(app, share)
        assert f'data-copy-text="{url}"' in page
        assert f'href="{url}"' in page


# --- one link ---------------------------------------------------------------------


def test_the_shown_url_is_the_one_the_api_returns(
    client, as_alice, report, api_headers
):
    made = client.post(
        "/api/v1/shares",
        json={"file_id": report.id, "expires_in": 3600},
        headers=api_headers(as_alice),
    ).get_json()

    page = client.get(f"/shares/{made['id']}").text

    assert LINK.search(page).group(1) == made["url"]
    assert client.get("/shares/").text.count(made["url"]) == 2  # copy button, link


def test_the_access_log_shows_each_visit(app, client, as_alice, report, make_share):
    share = make_share(as_alice, report)
    firefox = Visitor("203.0.113.77", "Mozilla/5.0 Firefox/130.0")
    with app.app_context():
        row = db.session.get(ShareLink, share.id)
        log_access(row, "wrong_password", firefox, now=NOW)
        log_access(row, "download", firefox, "report.pdf", now=NOW + timedelta(1))
        log_access(row, "view", Visitor("2001:db8:1:2::3"), now=NOW + timedelta(2))

    page = client.get(f"/shares/{share.id}").text
    log = text(page[page.index('id="log"') :])

    assert "203.0.113.0/24" in log and "203.0.113.77" not in log
    assert "2001:db8:1::/48" in log
    assert "Mozilla/5.0 Firefox/130.0" in log
    assert "Wrong password" in log and "Downloaded" in log and "Opened" in log
    assert "report.pdf" in log
    # Newest first.
    assert log.index("2030-01-03") < log.index("2030-01-02") < log.index("2030-01-01")


def test_an_upload_link_shows_who_uploaded_what_and_when(
    app, client, as_alice, inbox, make_share
):
    share = make_share(as_alice, inbox, kind="upload")
    phone = Visitor("198.51.100.20", "Mozilla/5.0 (iPhone)")
    with app.app_context():
        row = db.session.get(ShareLink, share.id)
        log_access(row, "upload", phone, "receipt.jpg", now=NOW)
        log_access(row, "upload", phone, "invoice.pdf", now=NOW + timedelta(1))

    page = text(client.get(f"/shares/{share.id}"))

    assert "Uploads and visits" in page
    assert "2030-01-01 12:00:00 Uploaded receipt.jpg" in page
    assert "2030-01-02 12:00:00 Uploaded invoice.pdf" in page
    assert "198.51.100.0/24" in page and "Mozilla/5.0 (iPhone)" in page


def test_a_link_without_visits_says_so(client, as_alice, report, make_share):
    share = make_share(as_alice, report)

    assert "Nobody has used this link yet." in client.get(f"/shares/{share.id}").text


def test_setting_a_new_expiry_counts_from_now(
    app, client, as_alice, report, make_share
):
    share = make_share(as_alice, report)
    change(app, share, expires_at=utcnow() - timedelta(days=1))
    assert status_of(app, share) == "expired"
    before = utcnow()

    response = post_form(client, f"/shares/{share.id}/expiry", {"expires": "30d"})

    assert response.status_code == 302
    expires_at = stored(app, share.id).expires_at
    assert before + timedelta(days=30) <= expires_at <= utcnow() + timedelta(days=30)
    assert status_of(app, share) == "active"
    assert "The link now expires on" in text(client.get(f"/shares/{share.id}"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"expires": "custom", "expires_on": "2000-01-01T00:00"}, "in the future"),
        ({"expires": "custom"}, "Pick a date and time"),
    ],
)
def test_a_bad_new_expiry_changes_nothing(
    app, client, as_alice, report, make_share, fields, message
):
    share = make_share(as_alice, report)

    response = post_form(client, f"/shares/{share.id}/expiry", fields)

    assert response.status_code == 400
    assert message in text(response)
    assert stored(app, share.id).expires_at == share.expires_at


def test_changing_and_removing_the_password(app, client, as_alice, report, make_share):
    share = make_share(as_alice, report, password="first")

    response = post_form(
        client, f"/shares/{share.id}/password", {"password": "second", "save": "1"}
    )
    assert response.status_code == 302
    assert password_ok(app, share, "second")
    assert not password_ok(app, share, "first")

    response = post_form(client, f"/shares/{share.id}/password", {"remove": "1"})
    assert response.status_code == 302
    assert stored(app, share.id).password_hash is None
    assert "Password removed" in text(client.get(f"/shares/{share.id}"))


def test_an_empty_new_password_is_refused(app, client, as_alice, report, make_share):
    share = make_share(as_alice, report, password="first")

    response = post_form(client, f"/shares/{share.id}/password", {"save": "1"})

    assert response.status_code == 400
    assert "Type the new password" in text(response)
    assert password_ok(app, share, "first")


def test_changing_the_limits_and_note(app, client, as_alice, report, make_share):
    share = make_share(as_alice, report, max_downloads=2, note="old")

    response = post_form(
        client, f"/shares/{share.id}/limits", {"max_downloads": "10", "note": "new"}
    )
    assert response.status_code == 302
    assert (stored(app, share.id).max_downloads, stored(app, share.id).note) == (
        10,
        "new",
    )

    post_form(client, f"/shares/{share.id}/limits", {"max_downloads": "", "note": ""})
    assert (stored(app, share.id).max_downloads, stored(app, share.id).note) == (
        None,
        None,
    )


def test_raising_the_limit_turns_a_used_up_link_back_on(
    app, client, as_alice, report, make_share
):
    share = make_share(as_alice, report, max_downloads=1)
    change(app, share, download_units=1 * UNIT)
    assert status_of(app, share) == "exhausted"

    post_form(client, f"/shares/{share.id}/limits", {"max_downloads": "2"})

    assert status_of(app, share) == "active"


def test_the_limits_form_of_an_upload_link(app, client, as_alice, inbox, make_share):
    share = make_share(as_alice, inbox, kind="upload", max_file_size=1000)
    page = client.get(f"/shares/{share.id}").text
    assert 'name="max_file_size"' in page and 'value="1 kB"' in page
    assert 'name="max_downloads"' not in page

    post_form(
        client,
        f"/shares/{share.id}/limits",
        {"max_file_size": "2 GB", "max_files": "4"},
    )

    assert (stored(app, share.id).max_file_size, stored(app, share.id).max_files) == (
        2_000_000_000,
        4,
    )


def test_revoking_turns_the_link_off_for_good(
    app, client, as_alice, report, make_share
):
    share = make_share(as_alice, report)

    response = post_form(client, f"/shares/{share.id}/revoke")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/shares/{share.id}"
    assert stored(app, share.id).revoked_at is not None
    assert status_of(app, share) == "revoked"
    page = client.get(f"/shares/{share.id}").text
    assert "You revoked this link" in page
    assert f"/shares/{share.id}/expiry" not in page
    # Revoking is for good: changes are refused, the row and its log remain.
    response = post_form(client, f"/shares/{share.id}/expiry", {"expires": "7d"})
    assert response.status_code == 409
    assert "revoked" in text(response)
    assert client.get("/shares/").text.count('class="share-row share-revoked"') == 1


def test_revoking_from_the_list_comes_back_to_the_list(
    app, client, as_alice, report, make_share
):
    share = make_share(as_alice, report)
    page = client.get("/shares/").text
    assert f'action="/shares/{share.id}/revoke" data-confirm=' in page

    response = post_form(client, f"/shares/{share.id}/revoke", {"back": "list"})

    assert response.headers["Location"] == "/shares/"
    assert status_of(app, share) == "revoked"


def test_someone_elses_link_is_not_found(
    app, client, auth, alice, bob, report, make_share
):
    share = make_share(alice, report, password="secret", max_downloads=3)
    auth.login("bob@example.com")

    assert client.get(f"/shares/{share.id}").status_code == 404
    for action, fields in [
        ("expiry", {"expires": "30d"}),
        ("password", {"remove": "1"}),
        ("limits", {"max_downloads": ""}),
        ("revoke", {}),
    ]:
        response = post_form(client, f"/shares/{share.id}/{action}", fields)
        assert response.status_code == 404
        assert "report" not in response.text
    after = stored(app, share.id)
    assert after.revoked_at is None and after.max_downloads == 3
    assert after.expires_at == share.expires_at
    assert after.password_hash == share.password_hash


def test_pages_need_a_signed_in_owner(client, alice, report, make_share):
    share = make_share(alice, report)

    for url in ("/shares/", f"/shares/{share.id}", f"/shares/new?node_id={report.id}"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_forms_without_the_csrf_token_are_refused(
    app, client, as_alice, report, make_share
):
    share = make_share(as_alice, report)

    response = client.post(f"/shares/{share.id}/revoke")

    assert response.status_code == 400
    assert stored(app, share.id).revoked_at is None


# --- the services -----------------------------------------------------------------


@pytest.fixture
def owner(app, alice):
    """Alice inside an app context, for calling services directly."""
    with app.app_context():
        yield db.session.get(User, alice.id)


def test_status_follows_the_link_and_its_item(app, owner, report):
    share = shares.create_share(
        owner, report.id, expires_at=NOW + timedelta(days=1), max_downloads=2, now=NOW
    )

    assert shares.status(share, NOW) == "active"
    assert shares.status(share, NOW + timedelta(days=1)) == "expired"
    share.download_units = 2 * UNIT
    assert shares.status(share, NOW) == "exhausted"
    share.download_units = 0 * UNIT
    owner.disabled = True
    assert shares.status(share, NOW) == "gone"
    owner.disabled = False
    share.node.trashed_at = NOW
    assert shares.status(share, NOW) == "gone"
    share.node.trashed_at = None
    share.revoked_at = NOW
    assert shares.status(share, NOW) == "revoked"


def test_a_link_follows_its_item_through_rename_and_move(app, owner, report, inbox):
    share = shares.create_share(owner, report.id, expires_at=utcnow() + timedelta(1))

    node = db.session.get(Node, report.id)
    files.update_item(
        owner, node, name="renamed.pdf", target=db.session.get(Node, inbox.id)
    )

    assert shares.status(share) == "active"
    assert shares.get_share(owner, share.id).node.name == "renamed.pdf"


def test_expiry_limits_in_the_service(app, owner, report):
    def make(when):
        return shares.create_share(owner, report.id, expires_at=when, now=NOW)

    with pytest.raises(BadRequest, match="in the future"):
        make(NOW)
    with pytest.raises(BadRequest, match="at most 90 days"):
        make(NOW + timedelta(days=90, minutes=2))
    assert make(NOW + timedelta(days=90)).expires_at == NOW + timedelta(days=90)


def test_an_aware_expiry_is_stored_as_naive_utc(app, owner, report):
    paris = timezone(timedelta(hours=2))
    when = datetime(2030, 1, 2, 14, 0, tzinfo=paris)

    share = shares.create_share(owner, report.id, expires_at=when, now=NOW)

    assert share.expires_at == datetime(2030, 1, 2, 12, 0)


def test_limits_must_fit_the_kind_of_link(app, owner, report, inbox):
    expires_at = NOW + timedelta(days=1)
    with pytest.raises(BadRequest, match="only to upload links"):
        shares.create_share(
            owner, report.id, expires_at=expires_at, max_files=3, now=NOW
        )
    with pytest.raises(BadRequest, match="no download limit"):
        shares.create_share(
            owner, inbox.id, kind="upload", expires_at=expires_at, max_downloads=3,
            now=NOW,
        )  # fmt: skip
    with pytest.raises(BadRequest, match="into a folder"):
        shares.create_share(owner, report.id, kind="upload", expires_at=expires_at)


def test_a_revoked_link_cannot_be_changed(app, owner, report):
    share = shares.create_share(
        owner, report.id, expires_at=NOW + timedelta(1), now=NOW
    )
    shares.revoke_share(owner, share.id, now=NOW)

    with pytest.raises(Conflict):
        shares.update_share(owner, share.id, note="again", now=NOW)


def test_a_failed_change_leaves_the_link_as_it_was(app, owner, report):
    share = shares.create_share(
        owner, report.id, expires_at=NOW + timedelta(1), note="kept", now=NOW
    )

    with pytest.raises(BadRequest):
        shares.update_share(
            owner, share.id, password="set first", max_downloads=-1, now=NOW
        )

    db.session.expire_all()
    assert shares.get_share(owner, share.id).password_hash is None


def test_the_services_load_only_the_owners_links(app, owner, bob, report):
    share = shares.create_share(
        owner, report.id, expires_at=NOW + timedelta(1), now=NOW
    )
    other = db.session.get(User, bob.id)

    for call in (
        lambda: shares.get_share(other, share.id),
        lambda: shares.update_share(other, share.id, note="mine now"),
        lambda: shares.revoke_share(other, share.id),
        lambda: shares.access_log(other, share.id),
        lambda: shares.create_share(other, report.id, expires_at=NOW + timedelta(1)),
    ):
        with pytest.raises(NotFound):
            call()
    assert shares.list_shares(other) == []


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=20), "in under a minute"),
        (timedelta(seconds=-20), "just now"),
        (timedelta(minutes=1), "in 1 minute"),
        (timedelta(minutes=-45), "45 minutes ago"),
        (timedelta(minutes=59, seconds=50), "in 1 hour"),
        (timedelta(hours=-2), "2 hours ago"),
        (timedelta(hours=23, minutes=59), "in 1 day"),
        (timedelta(days=6, hours=23, minutes=59), "in 7 days"),
        (timedelta(days=-3), "3 days ago"),
        (timedelta(days=59), "in 59 days"),
        (timedelta(days=90), "in 3 months"),
        (timedelta(days=-800), "2 years ago"),
    ],
)
def test_relative_times_read_naturally(delta, expected):
    assert relative_time(NOW + delta, NOW) == expected
