"""One-time links an administrator makes so someone can choose a new password."""

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, AuthActions, csrf_token_from
from tests.factories import back_off_fully
from vault.errors import AuthenticationFailed, BadRequest, Gone, NotFound
from vault.extensions import db
from vault.models import AuditEvent, PasswordReset, User, utcnow
from vault.services import accounts, admin, sessions

NEW_PASSWORD = "a brand new passphrase"
NOW = datetime(2030, 1, 1, 12, 0)


def issue(app, user, now=None) -> str:
    with app.app_context():
        return admin.issue_password_reset(None, db.session.get(User, user.id), now=now)


def submit(client, token, password=NEW_PASSWORD, confirm=None):
    page = client.get(f"/reset/{token}").get_data(as_text=True)
    return client.post(
        f"/reset/{token}",
        data={
            "new_password": password,
            "confirm": password if confirm is None else confirm,
            "csrf_token": csrf_token_from(page),
        },
    )


def is_signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def text(response) -> str:
    return response.get_data(as_text=True)


# --- the service -------------------------------------------------------------


def test_a_link_sets_the_password_once(app, bob):
    token = issue(app, bob, now=NOW)
    with app.app_context():
        user = accounts.reset_password_with_token(token, NEW_PASSWORD, now=NOW)

        assert user.id == bob.id
        assert accounts.authenticate(bob.email, NEW_PASSWORD, None).id == bob.id
        with pytest.raises(AuthenticationFailed):
            accounts.authenticate(bob.email, PASSWORD, None)
        with pytest.raises(Gone, match="already used"):
            accounts.reset_password_with_token(token, "another passphrase", now=NOW)
        reset = db.session.scalar(select(PasswordReset))
        assert reset.used_at == NOW


def test_a_link_lasts_one_hour(app, bob):
    token = issue(app, bob, now=NOW)
    with app.app_context():
        last_minute = NOW + timedelta(minutes=59)
        assert accounts.password_reset_for(token, now=last_minute).user_id == bob.id

        with pytest.raises(Gone, match="expired"):
            accounts.password_reset_for(token, now=NOW + timedelta(hours=1))
        with pytest.raises(Gone, match="expired"):
            accounts.reset_password_with_token(
                token, NEW_PASSWORD, now=NOW + timedelta(hours=1)
            )


@pytest.mark.parametrize("token", ["", "nope", "x" * 500, "é" * 43])
def test_an_unknown_link_is_not_found(app, bob, token):
    issue(app, bob)
    with app.app_context(), pytest.raises(NotFound):
        accounts.reset_password_with_token(token, NEW_PASSWORD)


def test_a_weak_password_leaves_the_link_usable(app, bob):
    token = issue(app, bob, now=NOW)
    with app.app_context():
        with pytest.raises(BadRequest):
            accounts.reset_password_with_token(token, "short", now=NOW)

        assert accounts.password_reset_for(token, now=NOW).used_at is None


def test_a_reset_signs_out_every_session_and_ends_a_lockout(app, bob):
    with app.app_context():
        user = db.session.get(User, bob.id)
        session = sessions.start_session(user)
        back_off_fully(bob.email, "192.0.2.1", utcnow())
    token = issue(app, bob)
    with app.app_context():
        accounts.reset_password_with_token(token, NEW_PASSWORD)

        assert sessions.load_session(session) is None
        # The account gets a fresh start: no wait for the new password.
        assert accounts.authenticate(bob.email, NEW_PASSWORD, "192.0.2.2").id == bob.id


def test_a_reset_is_audited_with_the_address(app, bob):
    token = issue(app, bob, now=NOW)
    with app.app_context():
        accounts.reset_password_with_token(
            token, NEW_PASSWORD, now=NOW, client_address="192.0.2.5"
        )

        used = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "password.reset_used")
        )
        assert (used.actor, used.target, used.address) == (
            "bob@example.com",
            "bob@example.com",
            "192.0.2.5",
        )
        assert used.at == NOW


# --- the page ----------------------------------------------------------------


def test_the_page_works_signed_out_and_leads_to_sign_in(app, client, bob):
    token = issue(app, bob)

    page = client.get(f"/reset/{token}")
    response = submit(client, token)

    assert page.status_code == 200
    assert "Choose a new password" in text(page)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "Your password was changed" in text(client.get("/login"))
    assert AuthActions(client).login(bob.email, NEW_PASSWORD).status_code == 302


def test_the_page_leaks_its_link_to_no_one(app, client, bob):
    token = issue(app, bob)

    for response in (
        client.get(f"/reset/{token}"),
        client.get("/reset/unknown-token"),
        submit(client, token, confirm="different"),
    ):
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Robots-Tag"] == "noindex"
        assert response.headers["Cache-Control"] == "no-store"


def test_a_used_link_answers_410(app, client, bob):
    token = issue(app, bob)
    submit(client, token)

    again = client.get(f"/reset/{token}")
    posted = client.post(f"/reset/{token}", data={"new_password": "whatever123"})

    assert again.status_code == posted.status_code == 410
    assert "already used" in text(again)


def test_an_expired_link_answers_410(app, client, bob):
    token = issue(app, bob, now=utcnow() - timedelta(hours=1, seconds=1))

    response = client.get(f"/reset/{token}")

    assert response.status_code == 410
    assert "expired" in text(response)


def test_an_unknown_link_answers_404(client, bob):
    assert client.get("/reset/" + "A" * 43).status_code == 404


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        (NEW_PASSWORD, "something else", "The passwords differ."),
        ("short", "short", "between 8 and 1024 characters"),
    ],
)
def test_bad_input_shows_the_form_again(app, client, bob, password, confirm, message):
    token = issue(app, bob)

    response = submit(client, token, password, confirm)

    assert response.status_code == 400
    assert message in text(response)
    assert client.get(f"/reset/{token}").status_code == 200  # still usable


def test_a_post_without_the_form_token_is_refused(app, client, bob):
    token = issue(app, bob)

    response = client.post(
        f"/reset/{token}", data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )

    assert response.status_code == 400
    assert AuthActions(client).login(bob.email, PASSWORD).status_code == 302


def test_the_csrf_check_needs_no_referer_over_https(app, bob):
    # The page sends no Referer (no-referrer), so the strict HTTPS Referer check
    # of the global CSRF protection must not apply to it.
    client = app.test_client()
    base = {"base_url": "https://vault.example"}
    token = issue(app, bob)
    page = client.get(f"/reset/{token}", **base).get_data(as_text=True)

    response = client.post(
        f"/reset/{token}",
        data={
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_token_from(page),
        },
        **base,
    )

    assert response.status_code == 302


def test_a_reset_signs_out_the_browsers_of_that_user(app, client, bob):
    AuthActions(client).login(bob.email)
    assert is_signed_in(client)

    submit(app.test_client(), issue(app, bob))

    assert not is_signed_in(client)


def test_the_link_path_is_what_the_admin_is_shown(app, bob):
    token = issue(app, bob)

    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
