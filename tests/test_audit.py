"""The audit log: which events are written, with what, and how it is read."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, AuthActions, csrf_token_from
from vault.errors import AuthenticationFailed, BadRequest, TooManyAttempts
from vault.extensions import db
from vault.models import AuditEvent, User
from vault.services import accounts, admin, audit

NOW = datetime(2030, 1, 1, 12, 0)
NEW_PASSWORD = "a brand new passphrase"


def logged(app, action_prefix: str = "") -> list[AuditEvent]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.startswith(action_prefix))
                .order_by(AuditEvent.id)
            )
        )
        for row in rows:
            db.session.expunge(row)
        return rows


def client_at(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def fail(app, email, address="192.0.2.1", now=NOW, times=1):
    with app.app_context():
        for _ in range(times):
            with pytest.raises(AuthenticationFailed):
                accounts.authenticate(email, "wrong password", address, now=now)


# --- sign-in failures and lockouts -------------------------------------------


def test_a_failed_sign_in_is_logged_with_the_email_typed_and_the_address(app, alice):
    response = AuthActions(client_at(app, "198.51.100.4")).login(
        " Alice@Example.com", "wrong"
    )

    assert response.status_code == 401
    [failed] = logged(app)
    assert failed.action == "sign_in.failed"
    assert (failed.actor, failed.actor_id) == ("visitor", None)
    assert (failed.target, failed.target_id) == ("alice@example.com", None)
    assert failed.address == "198.51.100.4"


def test_an_unknown_email_is_logged_like_a_known_one(app, alice):
    fail(app, "nobody@example.com")

    [failed] = logged(app)
    assert (failed.action, failed.target) == ("sign_in.failed", "nobody@example.com")


@pytest.mark.parametrize(
    "typed",
    ["correct horse battery", "evil\x00@example.com", "x" * 300 + "@example.com"],
    ids=["a-password", "control-characters", "too-long"],
)
def test_what_is_no_email_is_not_written_down(app, alice, typed):
    # Often a password typed into the wrong field.
    fail(app, typed)

    [failed] = logged(app)
    assert failed.target == "(not an email address)"


def test_a_back_off_is_logged_once_not_for_every_refused_attempt(app, alice):
    free = app.config["LOGIN_BACKOFF_AFTER"]
    fail(app, "alice@example.com", times=free)
    with app.app_context():
        for _ in range(5):
            with pytest.raises(TooManyAttempts):
                accounts.authenticate("alice@example.com", PASSWORD, "192.0.2.1", NOW)

    events = logged(app)
    assert [event.action for event in events].count("sign_in.failed") == free
    [locked] = [event for event in events if event.action == "sign_in.locked"]
    assert locked.target == "alice@example.com"
    assert locked.address == "192.0.2.1"
    assert locked.after == {"locked": ["account"]}
    assert locked.id == events[-1].id  # with the failure that started it


def test_a_new_back_off_after_the_window_is_logged_again(app, alice):
    free = app.config["LOGIN_BACKOFF_AFTER"]
    window = timedelta(seconds=app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    fail(app, "alice@example.com", times=free)
    fail(app, "alice@example.com", now=NOW + window, times=free)

    assert len(logged(app, "sign_in.locked")) == 2


def test_an_address_trying_many_emails_is_logged_as_locked(app, alice):
    limit = app.config["LOGIN_ADDRESS_MAX_FAILURES"]
    for number in range(limit):
        fail(app, f"guess{number}@example.com")

    [locked] = logged(app, "sign_in.locked")
    assert locked.after == {"locked": ["address"]}
    assert locked.target == f"guess{limit - 1}@example.com"


def test_a_disabled_account_is_refused_with_its_reason_in_the_log(app, alice, bob):
    with app.app_context():
        actor, target = db.session.get(User, alice.id), db.session.get(User, bob.id)
        admin.set_disabled(actor, target, True)
    client = client_at(app, "198.51.100.4")

    right = AuthActions(client).login("bob@example.com", PASSWORD)
    wrong = AuthActions(client).login("bob@example.com", "not the password")

    assert right.status_code == wrong.status_code == 401
    assert right.get_data(as_text=True).count("Wrong email or password.") == 1
    refused, failed = logged(app, "sign_in.")
    assert (refused.action, refused.after) == (
        "sign_in.refused",
        {"reason": "disabled"},
    )
    assert (refused.target, refused.target_id) == ("bob@example.com", bob.id)
    assert (refused.actor, refused.address) == ("visitor", "198.51.100.4")
    assert (failed.action, failed.target) == ("sign_in.failed", "bob@example.com")


def test_a_successful_sign_in_is_not_logged(app, alice):
    assert AuthActions(app.test_client()).login().status_code == 302

    assert logged(app) == []


# --- the person's own security changes ---------------------------------------


def test_a_password_change_is_logged_with_the_address(app, alice):
    client = client_at(app, "203.0.113.9")
    AuthActions(client).login()
    page = client.get("/account").get_data(as_text=True)

    client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_token_from(page),
        },
    )

    [changed] = logged(app)
    assert (changed.action, changed.actor, changed.target) == (
        "password.changed",
        "alice@example.com",
        "alice@example.com",
    )
    assert changed.address == "203.0.113.9"


def test_a_wrong_current_password_changes_and_logs_nothing(app, alice):
    with app.app_context():
        user = db.session.get(User, alice.id)
        with pytest.raises(AuthenticationFailed):
            accounts.change_password(user, "wrong", NEW_PASSWORD)

    assert logged(app) == []


def test_tokens_made_and_revoked_on_the_account_page_are_logged(app, alice):
    client = client_at(app, "203.0.113.9")
    AuthActions(client).login()
    token = csrf_token_from(client.get("/account").get_data(as_text=True))

    client.post("/account/tokens", data={"name": "laptop", "csrf_token": token})
    [created] = logged(app)
    client.post(
        f"/account/tokens/{created.target_id}/revoke", data={"csrf_token": token}
    )

    created, revoked = logged(app)
    assert (created.action, created.target, created.after) == (
        "token.created",
        "laptop",
        {"name": "laptop"},
    )
    assert (revoked.action, revoked.target_id, revoked.before) == (
        "token.revoked",
        created.target_id,
        {"name": "laptop"},
    )
    assert {created.actor, revoked.actor} == {"alice@example.com"}
    assert {created.address, revoked.address} == {"203.0.113.9"}


def test_a_token_made_through_the_api_is_logged_with_the_address(app, alice):
    client = client_at(app, "203.0.113.7")

    response = client.post(
        "/api/v1/tokens",
        json={"email": "alice@example.com", "password": PASSWORD, "name": "cli"},
    )

    assert response.status_code == 201
    [created] = logged(app)
    assert (created.action, created.target_id, created.address) == (
        "token.created",
        response.get_json()["id"],
        "203.0.113.7",
    )


def test_share_links_made_and_revoked_are_logged(
    app, client, alice, upload, api_headers
):
    headers = api_headers(alice)
    file = upload(alice, "report.pdf", b"%PDF-1.4\n")

    made = client.post(
        "/api/v1/shares",
        json={"file_id": file.id, "expires_in": 3600, "password": "sesame"},
        headers=headers,
    ).get_json()
    client.delete(f"/api/v1/shares/{made['id']}", headers=headers)
    client.delete(f"/api/v1/shares/{made['id']}", headers=headers)  # no-op

    created, revoked = logged(app, "share.")
    assert (created.action, created.target_type, created.target_id) == (
        "share.created",
        "share",
        made["id"],
    )
    assert created.target == "report.pdf"
    assert created.after["kind"] == "download"
    assert created.after["password"] is True
    assert created.after["expires_at"] + "Z" == made["expires_at"]
    assert (revoked.action, revoked.before, revoked.after) == (
        "share.revoked",
        {"revoked": False},
        {"revoked": True},
    )
    assert {created.actor, revoked.actor} == {"alice@example.com"}


# --- recording and reading ---------------------------------------------------


def test_record_refuses_an_unknown_action(app):
    with app.app_context(), pytest.raises(ValueError, match="unknown audit action"):
        audit.record("user.teleported")


def test_the_command_line_is_named_as_the_actor(app, bob):
    with app.app_context():
        admin.set_quota(None, db.session.get(User, bob.id), 5)

    [changed] = logged(app)
    assert (changed.actor, changed.actor_id) == ("command line", None)


def test_an_event_outlives_the_account_it_names(app, alice, bob):
    with app.app_context():
        admin.delete_user(
            db.session.get(User, alice.id),
            db.session.get(User, bob.id),
            "bob@example.com",
        )
        admin.set_quota(
            db.session.get(User, alice.id), db.session.get(User, alice.id), 1
        )

    deleted, changed = logged(app)
    assert (deleted.target, deleted.target_id) == ("bob@example.com", bob.id)
    assert changed.action == "user.quota_changed"


@pytest.fixture
def history(app, alice, bob):
    """Five events, a minute apart, oldest first."""
    with app.app_context():
        actor = db.session.get(User, alice.id)
        target = db.session.get(User, bob.id)
        made = [
            ("user.created", actor, target),
            ("user.quota_changed", actor, target),
            ("user.disabled", None, target),
            ("token.created", target, None),
            ("sign_in.failed", None, None),
        ]
        for minute, (action, who, what) in enumerate(made):
            audit.record(
                action,
                actor=who,
                target=what,
                target_label=None if what else "Someone@Example.com",
                now=NOW + timedelta(minutes=minute),
            )
        db.session.commit()
    return [action for action, _, _ in made]


def test_list_events_shows_the_newest_first(app, history):
    with app.app_context():
        page = audit.list_events()

        assert [event.action for event in page.events] == history[::-1]
        assert (page.page, page.pages, page.total) == (1, 1, 5)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("user.disabled", ["user.disabled"]),
        ("user.", ["user.disabled", "user.quota_changed", "user.created"]),
        ("sign_in.", ["sign_in.failed"]),
        ("password.", []),
    ],
)
def test_list_events_filters_by_action_or_prefix(app, history, action, expected):
    with app.app_context():
        found = audit.list_events(action=action)

        assert [event.action for event in found.events] == expected


@pytest.mark.parametrize("action", ["user.teleported", "nothing.", "user", "%."])
def test_list_events_refuses_an_unknown_action(app, history, action):
    with app.app_context(), pytest.raises(BadRequest):
        audit.list_events(action=action)


@pytest.mark.parametrize(
    ("query", "count"),
    [("ALICE", 2), ("bob@", 4), ("someone", 2), ("command line", 1), ("%", 0)],
)
def test_list_events_searches_actor_and_target(app, history, query, count):
    with app.app_context():
        assert audit.list_events(query=query).total == count


def test_list_events_pages_and_clamps_the_page(app, history):
    with app.app_context():
        second = audit.list_events(page=2, per_page=2)
        beyond = audit.list_events(page=50, per_page=2)

        assert [event.action for event in second.events] == history[2:0:-1]
        assert (second.page, second.pages) == (2, 3)
        assert (beyond.page, [e.action for e in beyond.events]) == (3, history[:1])


def test_list_events_of_an_empty_log(app):
    with app.app_context():
        page = audit.list_events(page=3)

        assert (page.events, page.page, page.pages, page.total) == ([], 1, 1, 0)
