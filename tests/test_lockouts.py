"""Administrators see and lift sign-in lockouts: on the pages and the CLI."""

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import AuthActions
from tests.helpers import post_form
from vault.extensions import db
from vault.models import AuditEvent, utcnow

HOME = "203.0.113.5"


def at(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return AuthActions(client)


def unlocked_events(app) -> list[AuditEvent]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "sign_in.unlocked")
            )
        )
        db.session.expunge_all()
        return rows


@pytest.fixture
def bob_backed_off(app, bob):
    with app.app_context():
        factories.back_off_fully("bob@example.com", HOME, utcnow())
    assert at(app, HOME).login("bob@example.com").status_code == 429
    return bob


@pytest.fixture
def home_locked(app, bob):
    with app.app_context():
        factories.guess_many_accounts(HOME, 100, utcnow())
    assert at(app, HOME).login("bob@example.com").status_code == 429


def test_the_user_page_shows_the_back_off_and_clears_it(
    app, client, as_alice, bob_backed_off
):
    page = client.get(f"/admin/users/{bob_backed_off.id}").get_data(as_text=True)
    assert "15 failed sign-ins in the last day" in page
    assert "The next try must wait until" in page

    response = post_form(client, f"/admin/users/{bob_backed_off.id}/unlock")

    assert response.status_code == 302
    assert at(app, HOME).login("bob@example.com").status_code == 302
    [event] = unlocked_events(app)
    assert (event.actor, event.target) == ("alice@example.com", "bob@example.com")
    assert event.before == {"failures": 15}


def test_clearing_a_back_off_needs_the_form_token(
    app, client, as_alice, bob_backed_off
):
    response = client.post(f"/admin/users/{bob_backed_off.id}/unlock")

    assert response.status_code == 400
    assert at(app, HOME).login("bob@example.com").status_code == 429


def test_only_administrators_clear_a_back_off(app, bob_backed_off, make_user):
    make_user("carol@example.com")
    carol = app.test_client()
    AuthActions(carol).login("carol@example.com")

    response = post_form(carol, f"/admin/users/{bob_backed_off.id}/unlock")

    assert response.status_code == 404
    assert at(app, HOME).login("bob@example.com").status_code == 429


def test_the_admin_page_lists_a_locked_address_and_clears_it(
    app, client, as_alice, home_locked
):
    page = client.get("/admin").get_data(as_text=True)
    assert "Locked-out addresses" in page
    assert f"<strong>{HOME}</strong> · sign-in: 100 failures on 100" in page

    response = post_form(client, "/admin/addresses/unlock", {"address": HOME})

    assert response.status_code == 302
    assert at(app, HOME).login("bob@example.com").status_code == 302
    assert "Locked-out addresses" not in client.get("/admin").get_data(as_text=True)
    [event] = unlocked_events(app)
    assert (event.target, event.before) == (HOME, {"failures": 100})


def test_users_unlock_ends_a_back_off_from_the_command_line(
    app, runner, bob_backed_off
):
    result = runner.invoke(args=["users", "unlock", "BOB@example.com"])

    assert result.exit_code == 0, result.output
    assert "Cleared 15 failed sign-ins of bob@example.com." in result.output
    assert at(app, HOME).login("bob@example.com").status_code == 302
    [event] = unlocked_events(app)
    assert (event.actor, event.target) == ("command line", "bob@example.com")


def test_users_unlock_of_an_unknown_email_fails(runner, bob):
    result = runner.invoke(args=["users", "unlock", "nobody@example.com"])

    assert result.exit_code == 1
    assert "There is no account with the email nobody@example.com." in result.output


def test_users_unlock_address_lifts_an_address_lockout(app, runner, home_locked):
    result = runner.invoke(args=["users", "unlock-address", HOME])

    assert result.exit_code == 0, result.output
    assert f"Cleared 100 failures counted for {HOME}." in result.output
    assert at(app, HOME).login("bob@example.com").status_code == 302
