"""The admin pages: users and totals, one user's actions, the audit log."""

import html
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import AuthActions, csrf_token_from, stored_user
from tests.helpers import post_form
from vault.extensions import db
from vault.models import AuditEvent, User
from vault.services import audit

NOW = datetime(2030, 1, 1, 12, 0)
MISSING_ID = "0" * 32
RESET_LINK = re.compile(r'id="reset-link"[^>]*value="([^"]+)"')


@pytest.fixture
def app_config(app_config):
    app_config["DEFAULT_QUOTA"] = "5 GB"
    return app_config


@pytest.fixture
def bob_client(app, bob):
    """A second browser, signed in as bob."""
    client = app.test_client()
    AuthActions(client).login("bob@example.com")
    return client


def text(page) -> str:
    """A page's visible text, roughly: tags out, whitespace squeezed."""
    body = page.get_data(as_text=True) if hasattr(page, "get_data") else page
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def listed_emails(page) -> list[str]:
    return re.findall(r'<span class="label">([^<]+@[^<]+)</span>', page.text)


def user_url(user, action="") -> str:
    return f"/admin/users/{user.id}{action}"


def set_column(app, user, **values) -> None:
    """Change a user's row directly, as time and uploads would."""
    with app.app_context():
        row = db.session.get(User, user.id)
        for name, value in values.items():
            setattr(row, name, value)
        db.session.commit()


def events(app, action=None) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
        return rows


def user_actions(app) -> list[str]:
    return [event.action for event in events(app) if event.action.startswith("user.")]


def record(app, action, count=1, **options) -> None:
    with app.app_context():
        for number in range(count):
            audit.record(action, now=NOW + timedelta(minutes=number), **options)
        db.session.commit()


ADMIN_GETS = ["/admin", "/admin/users/new", "/admin/audit"]
ACTION_PATHS = [
    "/quota",
    "/disable",
    "/enable",
    "/promote",
    "/demote",
    "/password-reset",
    "/delete",
]


# --- who may see the section ------------------------------------------------------


@pytest.mark.parametrize("path", ADMIN_GETS + ["/admin/users/{bob}"])
def test_signed_out_visitors_are_sent_to_sign_in(client, bob, path):
    response = client.get(path.format(bob=bob.id))

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("action", ACTION_PATHS)
def test_a_signed_out_post_changes_nothing(app, client, auth, bob, action):
    response = client.post(
        user_url(bob, action),
        data={"csrf_token": auth.csrf_token(), "confirmation": bob.email},
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert stored_user(app, bob.email) is not None
    assert events(app) == []


@pytest.mark.parametrize("path", ADMIN_GETS + ["/admin/users/{alice}"])
def test_non_admins_get_the_not_found_page(client, alice, bob, auth, path):
    auth.login("bob@example.com")

    response = client.get(path.format(alice=alice.id))

    assert response.status_code == 404
    assert "Not found." in response.text
    assert "/admin" not in response.text


@pytest.mark.parametrize("action", ACTION_PATHS)
def test_non_admins_cannot_act_on_anyone(app, client, alice, bob, auth, action):
    auth.login("bob@example.com")

    response = post_form(
        client, user_url(alice, action), {"quota": "1 GB", "confirmation": alice.email}
    )

    assert response.status_code == 404
    assert stored_user(app, alice.email).is_admin
    assert events(app) == []


def test_only_admins_see_the_admin_link(client, alice, bob, auth):
    auth.login("bob@example.com")
    assert 'href="/admin"' not in client.get("/").text

    auth.logout()
    auth.login()
    page = client.get("/admin")
    assert '<a href="/admin" aria-current="page">' in page.text


# --- the users table --------------------------------------------------------------


def test_the_overview_shows_totals_and_every_user(
    app, client, as_alice, bob, upload, trash_item
):
    upload(bob, "a.txt", b"x" * 3000)
    upload(bob, "b.txt", b"y" * 1000)
    trash_item(bob, upload(bob, "c.txt", b"z" * 500))
    set_column(app, bob, last_login_at=NOW)

    response = client.get("/admin")

    assert response.status_code == 200
    page = text(response)
    assert "Users 2" in page and "Files 2" in page
    assert "Stored 4.5 kB" in page and "In the trash 500 bytes" in page
    assert "Free on the storage volume" in page and "% used" in page
    assert listed_emails(response) == ["bob@example.com", "alice@example.com"]
    assert f'href="/admin/users/{bob.id}"' in response.text
    assert '<time datetime="2030-01-01T12:00:00Z"' in response.text
    assert "4.5 kB of 5.0 GB" in page
    assert 'href="/admin/users/new"' in response.text
    assert 'href="/admin/audit"' in response.text


def test_the_usage_bar_warns_from_ninety_percent(app, client, as_alice, bob, upload):
    upload(bob, "big.txt", b"x" * 950)
    set_column(app, bob, quota_bytes=1000)

    page = client.get("/admin").text

    [bob_row] = [row for row in page.split("<tr") if "bob@example.com" in row]
    assert "quota-warn" in bob_row
    assert 'value="95"' in bob_row and "95%" in bob_row


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["carol@example.com", "bob@example.com", "alice@example.com"]),
        ("?sort=usage&order=asc", ["alice@example.com", "bob@example.com"]),
        ("?sort=email&order=asc", ["alice@example.com", "bob@example.com"]),
        ("?sort=email&order=desc", ["carol@example.com", "bob@example.com"]),
        ("?sort=files&order=desc", ["bob@example.com", "carol@example.com"]),
    ],
)
def test_users_sort_by_usage_by_default_and_by_any_column(
    client, as_alice, bob, make_user, upload, query, expected
):
    carol = make_user("carol@example.com")
    upload(carol, "big.txt", b"x" * 5000)
    upload(bob, "one.txt", b"1")
    upload(bob, "two.txt", b"2")

    emails = listed_emails(client.get("/admin" + query))

    assert emails[: len(expected)] == expected


def test_sort_links_flip_the_order_and_keep_the_search(client, as_alice, bob):
    page = client.get("/admin?q=example&sort=email&order=asc").text

    assert 'href="/admin?q=example&amp;sort=email&amp;order=desc"' in page
    assert 'href="/admin?q=example&amp;sort=files&amp;order=desc"' in page
    assert 'aria-sort="ascending"' in page


def test_search_finds_users_by_part_of_their_email(client, as_alice, bob):
    response = client.get("/admin?q=BOB")

    assert listed_emails(response) == ["bob@example.com"]
    assert 'value="BOB"' in response.text


def test_a_search_that_finds_nobody_says_so(client, as_alice):
    response = client.get("/admin?q=nobody")

    assert response.status_code == 200
    assert "No user's email contains “nobody”." in text(response)


def test_users_come_fifty_to_a_page(client, as_alice, make_user):
    for number in range(50):
        make_user(f"user{number:02}@example.com")

    first = client.get("/admin?q=example&sort=email&order=asc")
    second = client.get("/admin?q=example&sort=email&order=asc&page=2")
    beyond = client.get("/admin?q=example&sort=email&order=asc&page=9")

    assert len(listed_emails(first)) == 50
    assert listed_emails(second) == ["user49@example.com"]
    assert "Page 1 of 2 · 51 users" in text(first)
    assert 'href="/admin?q=example&amp;sort=email&amp;order=asc&amp;page=2"' in (
        first.text
    )
    assert listed_emails(beyond) == listed_emails(second)


@pytest.mark.parametrize(
    "query",
    ["?sort=size", "?order=sideways", "?page=x", "?page=0", "?page=-1", "?page=²"],
)
def test_bad_listing_arguments_answer_400(client, as_alice, query):
    response = client.get("/admin" + query)

    assert response.status_code == 400
    assert "Error 400" in response.text


# --- creating a user --------------------------------------------------------------


def create_form(**fields):
    return {
        "email": "dave@example.com",
        "password": "a long password",
        "confirm": "a long password",
        **fields,
    }


def test_the_create_form_offers_the_default_quota(client, as_alice):
    response = client.get("/admin/users/new")

    assert response.status_code == 200
    assert 'placeholder="5 GB"' in response.text
    assert "Leave empty for the default quota (5 GB)." in text(response)


def test_creating_a_user_with_a_quota_and_the_admin_role(app, client, as_alice):
    response = post_form(
        client, "/admin/users/new", create_form(quota="20 GB", is_admin="y")
    )

    dave = stored_user(app, "dave@example.com")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/users/{dave.id}"
    assert dave.quota_bytes == 20 * 10**9 and dave.is_admin
    [event] = events(app, "user.created")
    assert event.actor == as_alice.email and event.target == "dave@example.com"
    assert "dave@example.com can sign in now" in client.get(user_url(dave)).text
    assert AuthActions(app.test_client()).login(
        "dave@example.com", "a long password"
    ).status_code == 302  # fmt: skip


@pytest.mark.parametrize(
    ("quota", "expected"), [("", 5 * 10**9), ("unlimited", None), ("0", 0)]
)
def test_a_blank_quota_is_the_default_and_unlimited_is_none(
    app, client, as_alice, quota, expected
):
    post_form(client, "/admin/users/new", create_form(quota=quota))

    dave = stored_user(app, "dave@example.com")
    assert dave.quota_bytes == expected and not dave.is_admin


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"quota": "lots"}, 400, "Write a size like “10 GB”"),
        ({"quota": "99999999999 TB"}, 400, "larger than vault can count"),
        ({"confirm": "something else"}, 400, "The passwords differ."),
        ({"password": "short", "confirm": "short"}, 400, "password of 8 to"),
        ({"email": ""}, 400, "This field is required."),
        ({"email": "not an email"}, 400, "Enter a valid email address."),
        ({"email": "BOB@example.com"}, 409, "already exists"),
    ],
)
def test_create_errors_show_on_the_form(
    app, client, as_alice, bob, fields, status, message
):
    response = post_form(client, "/admin/users/new", create_form(**fields))

    assert response.status_code == status
    assert message in text(response)
    assert 'id="email"' in response.text
    assert stored_user(app, "dave@example.com") is None
    assert events(app, "user.created") == []


# --- one user's page --------------------------------------------------------------


def test_a_users_page_shows_their_figures_and_actions(
    app, client, as_alice, bob, upload, trash_item
):
    upload(bob, "kept.txt", b"k" * 2000)
    gone = upload(bob, "gone.txt", b"g" * 500)
    trash_item(bob, gone)
    set_column(app, bob, last_login_at=NOW)

    response = client.get(user_url(bob))

    assert response.status_code == 200
    page = text(response)
    assert "bob@example.com" in page and "User" in page and "Active" in page
    assert "2.5 kB of 5.0 GB" in page
    assert "Files 1" in page and "In the trash 500 bytes" in page
    assert "Quota 5 GB" in page
    assert '<time datetime="2030-01-01T12:00:00Z"' in response.text
    assert 'value="5 GB"' in response.text
    assert "Type bob@example.com to confirm" in page
    for action in ("/quota", "/disable", "/promote", "/password-reset", "/delete"):
        assert f'action="/admin/users/{bob.id}{action}"' in response.text


def test_your_own_page_offers_no_disable_or_delete(client, as_alice):
    page = client.get(user_url(as_alice)).text

    assert "/disable" not in page and "/delete" not in page
    assert "You cannot delete your own account." in text(page)


@pytest.mark.parametrize("user_id", [MISSING_ID, "nope", "0" * 31 + "g", "a" * 40])
def test_an_unknown_or_malformed_user_is_not_found(client, as_alice, user_id):
    assert client.get(f"/admin/users/{user_id}").status_code == 404


@pytest.mark.parametrize("action", ACTION_PATHS)
def test_actions_on_an_unknown_user_are_not_found(app, client, as_alice, action):
    response = post_form(
        client, f"/admin/users/{MISSING_ID}{action}", {"quota": "1 GB"}
    )

    assert response.status_code == 404
    assert events(app) == []


# --- quota ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored", "shown"),
    [("20 GB", 20 * 10**9, "20 GB"), ("unlimited", None, "unlimited")],
)
def test_setting_a_quota(app, client, as_alice, bob, typed, stored, shown):
    response = post_form(client, user_url(bob, "/quota"), {"quota": typed})

    assert response.status_code == 302
    assert response.headers["Location"] == user_url(bob)
    assert stored_user(app, bob.email).quota_bytes == stored
    assert f"The quota of bob@example.com is now {shown}." in text(
        client.get(user_url(bob))
    )
    [event] = events(app, "user.quota_changed")
    assert (event.before, event.after) == (
        {"quota_bytes": 5 * 10**9},
        {"quota_bytes": stored},
    )


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Write a size like"),
        ("ten gigs", "Write a size"),
        ("-5 GB", "Write a size"),
    ],
)
def test_a_bad_quota_shows_on_the_page(app, client, as_alice, bob, typed, message):
    response = post_form(client, user_url(bob, "/quota"), {"quota": typed})

    assert response.status_code == 400
    assert message in text(response)
    assert 'aria-invalid="true"' in response.text
    assert f'value="{html.escape(typed)}"' in response.text
    assert stored_user(app, bob.email).quota_bytes == 5 * 10**9


def test_an_action_without_its_csrf_token_is_refused(app, client, as_alice, bob):
    response = client.post(user_url(bob, "/quota"), data={"quota": "1 GB"})

    assert response.status_code == 400
    assert stored_user(app, bob.email).quota_bytes == 5 * 10**9


# --- disable and enable -----------------------------------------------------------


def test_disabling_signs_the_user_out_and_enabling_lets_them_back(
    app, client, as_alice, bob, bob_client
):
    assert bob_client.get("/").status_code == 200

    response = post_form(client, user_url(bob, "/disable"))

    assert response.status_code == 302
    assert stored_user(app, bob.email).disabled
    assert bob_client.get("/").headers["Location"].startswith("/login")
    page = text(client.get(user_url(bob)))
    assert "bob@example.com is disabled" in page and "Disabled" in page
    assert AuthActions(app.test_client()).login(bob.email).status_code != 302

    response = post_form(client, user_url(bob, "/enable"))

    assert response.status_code == 302
    assert not stored_user(app, bob.email).disabled
    assert "bob@example.com is enabled again" in text(client.get(user_url(bob)))
    assert user_actions(app) == ["user.disabled", "user.enabled"]


def test_you_cannot_disable_yourself(app, client, as_alice):
    response = post_form(client, user_url(as_alice, "/disable"))

    assert response.status_code == 409
    assert "You cannot disable your own account." in text(response)
    assert not stored_user(app, as_alice.email).disabled


# --- the admin role ---------------------------------------------------------------


def test_making_and_unmaking_an_administrator(app, client, as_alice, bob):
    response = post_form(client, user_url(bob, "/promote"))

    assert response.status_code == 302
    assert stored_user(app, bob.email).is_admin
    assert "bob@example.com is now an administrator." in text(client.get(user_url(bob)))

    post_form(client, user_url(bob, "/demote"))

    assert not stored_user(app, bob.email).is_admin
    assert user_actions(app) == ["user.promoted", "user.demoted"]


def test_the_last_administrator_keeps_the_role(app, client, as_alice):
    response = post_form(client, user_url(as_alice, "/demote"))

    assert response.status_code == 409
    assert "last administrator" in text(response)
    assert stored_user(app, as_alice.email).is_admin
    assert events(app) == []


def test_removing_your_own_role_leaves_the_section(app, client, as_alice, make_user):
    make_user("carol@example.com", is_admin=True)

    response = post_form(client, user_url(as_alice, "/demote"))

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/admin").status_code == 404


# --- password reset ---------------------------------------------------------------


def test_a_reset_link_is_shown_once_and_works_once(app, client, as_alice, bob):
    response = post_form(client, user_url(bob, "/password-reset"))

    assert response.status_code == 201
    link = html.unescape(RESET_LINK.search(response.text).group(1))
    assert link.startswith("http://localhost/reset/")
    token = link.rsplit("/", 1)[1]
    assert "valid for one hour" in text(response)
    assert 'data-copy-from="#reset-link"' in response.text
    # Never kept in the session cookie: the next page has no trace of it.
    assert token not in client.get(user_url(bob)).text
    [event] = events(app, "password.reset_issued")
    assert event.target == bob.email and token not in str(event.after)

    path = link.removeprefix("http://localhost")
    visitor = app.test_client()
    opened = visitor.get(path)
    assert opened.status_code == 200
    used = visitor.post(
        path,
        data={
            "new_password": "a brand new password",
            "confirm": "a brand new password",
            "csrf_token": csrf_token_from(opened.text),
        },
    )
    assert used.status_code == 302
    assert visitor.get(path).status_code in (404, 410)
    assert (
        AuthActions(visitor).login(bob.email, "a brand new password").status_code == 302
    )


# --- deleting ---------------------------------------------------------------------


@pytest.mark.bytes
def test_deleting_a_user_takes_their_files(app, client, as_alice, bob, upload):
    upload(bob, "notes.txt", b"bob's notes")

    response = post_form(
        client, user_url(bob, "/delete"), {"confirmation": "bob@example.com"}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin"
    assert stored_user(app, bob.email) is None
    assert "bob@example.com was deleted, with all their files." in text(
        client.get("/admin")
    )
    assert client.get(user_url(bob)).status_code == 404
    [event] = events(app, "user.deleted")
    assert event.target == "bob@example.com"


@pytest.mark.parametrize(
    ("confirmation", "message"),
    [
        ("", "Type the email to confirm."),
        ("bob", "Type bob@example.com to confirm the deletion."),
    ],
)
def test_a_wrong_confirmation_deletes_nothing(
    app, client, as_alice, bob, confirmation, message
):
    response = post_form(
        client, user_url(bob, "/delete"), {"confirmation": confirmation}
    )

    assert response.status_code == 400
    assert message in text(response)
    assert stored_user(app, bob.email) is not None


def test_you_cannot_delete_yourself(app, client, as_alice):
    response = post_form(
        client, user_url(as_alice, "/delete"), {"confirmation": as_alice.email}
    )

    assert response.status_code == 409
    assert "You cannot delete your own account." in text(response)
    assert stored_user(app, as_alice.email) is not None


# --- the audit log ----------------------------------------------------------------


def test_the_audit_log_shows_who_did_what_and_the_change(app, client, as_alice, bob):
    with app.app_context():
        admin = db.session.get(User, as_alice.id)
        target = db.session.get(User, bob.id)
        audit.record(
            "user.quota_changed",
            actor=admin,
            target=target,
            before={"quota_bytes": 10 * 10**9},
            after={"quota_bytes": 20 * 10**9},
            address="192.0.2.7",
            now=NOW,
        )
        audit.record("user.created", target_label="carol@example.com", now=NOW)
        audit.record("sign_in.failed", target_label="mallory@example.com", now=NOW)
        db.session.commit()

    response = client.get("/admin/audit")

    assert response.status_code == 200
    page = text(response.text.split("<table", 1)[1])
    assert "Quota changed" in page and "Sign-in failed" in page
    assert "quota: 10.0 GB → changed to 20.0 GB" in page
    assert "alice@example.com" in page and "192.0.2.7" in page
    assert f"{audit.COMMAND_LINE} carol@example.com" in page
    assert f"{audit.VISITOR} mallory@example.com" in page
    assert '<time datetime="2030-01-01T12:00:00Z"' in response.text
    # Newest first: ties on time go by the order they were recorded.
    assert page.index("Sign-in failed") < page.index("Quota changed")


def test_the_audit_log_filters_by_action_group_and_text(app, client, as_alice, bob):
    record(app, "user.created", target_label="dave@example.com")
    record(app, "user.deleted", target_label="erin@example.com")
    record(app, "token.created", target_label="backup script")

    def shown(query):
        response = client.get("/admin/audit" + query)
        assert response.status_code == 200
        page = text(response)
        names = ("dave@example.com", "erin@example.com", "backup script")
        return [name for name in names if name in page]

    assert shown("") == ["dave@example.com", "erin@example.com", "backup script"]
    assert shown("?action=user.") == ["dave@example.com", "erin@example.com"]
    assert shown("?action=user.deleted") == ["erin@example.com"]
    assert shown("?q=BACKUP") == ["backup script"]
    assert shown("?action=user.&q=dave") == ["dave@example.com"]
    assert shown("?action=share.") == []
    page = client.get("/admin/audit?action=user.").text
    assert '<option value="user." selected>' in page


def test_every_action_and_group_is_offered(client, as_alice):
    page = client.get("/admin/audit").text

    for name, label in audit.ACTIONS.items():
        assert f'<option value="{name}">{label}</option>' in page
    for group in ("user.", "sign_in.", "share.", "token.", "password."):
        assert f'<option value="{group}">' in page


def test_an_empty_audit_log_says_so(client, as_alice):
    assert "No events match these filters." in text(
        client.get("/admin/audit?action=share.")
    )


def test_the_audit_log_pages_by_a_hundred(app, client, as_alice):
    record(app, "token.created", count=105, target_label="script")

    first = client.get("/admin/audit?action=token.")
    second = client.get("/admin/audit?action=token.&page=2")

    assert first.text.count('<span class="outcome">') == 100
    assert second.text.count('<span class="outcome">') == 5
    assert "Page 1 of 2 · 105 events" in text(first)
    assert 'href="/admin/audit?action=token.&amp;page=2"' in first.text


@pytest.mark.parametrize("query", ["?action=nonsense", "?action=nope.", "?page=x"])
def test_bad_audit_filters_answer_400(client, as_alice, query):
    assert client.get("/admin/audit" + query).status_code == 400
