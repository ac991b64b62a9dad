"""Invitations: an administrator creates an account by email; the person picks
the password through the mailed link."""

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token_from, stored_user
from tests.mailserver import body, reset_link
from vault import security
from vault.extensions import db
from vault.models import AuditEvent
from vault.services import outbox

CHOSEN = "my own long password"


@pytest.fixture
def app_config(app_config, smtp):
    return {**app_config, **smtp.settings()}


def invite(client, email="carol@example.com", **fields):
    page = client.get("/admin/users/invite").get_data(as_text=True)
    data = {"email": email, "csrf_token": csrf_token_from(page), **fields}
    return client.post("/admin/users/invite", data=data)


def choose(client, path):
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    return client.post(
        path, data={"new_password": CHOSEN, "confirm": CHOSEN, "csrf_token": token}
    )


def test_the_admin_pages_offer_it(client, as_alice):
    assert 'href="/admin/users/invite"' in client.get("/admin").get_data(as_text=True)
    new_user = client.get("/admin/users/new").get_data(as_text=True)
    assert "invite them by email" in new_user


def test_an_invited_person_chooses_a_password(app, client, as_alice, smtp, deliver):
    answer = invite(client, "Carol@Example.com", quota="1 GB")
    assert answer.status_code == 302
    page = client.get(answer.location).get_data(as_text=True)
    assert "Invitation on its way to carol@example.com" in page
    assert "has not chosen a password yet" in page
    carol = stored_user(app, "carol@example.com")
    assert (carol.quota_bytes, carol.is_admin) == (10**9, False)

    assert deliver() == (1, 0)
    (message,) = smtp.inbox.wait_for(1)
    assert message["To"] == "carol@example.com"
    assert "alice@example.com made you an account" in body(message)
    assert "seven days" in body(message)
    path = reset_link(message)

    client.post("/logout", data={"csrf_token": csrf_token_from(page)})
    assert choose(client, path).status_code == 302
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    signed_in = client.post(
        "/login",
        data={"email": "carol@example.com", "password": CHOSEN, "csrf_token": token},
    )
    assert signed_in.status_code == 302
    assert client.get(path).status_code == 410
    # Choosing the first password is not news to mail about.
    assert deliver() == (0, 0)


def test_nobody_signs_in_before_the_link_is_used(client, alice, auth):
    auth.login()
    invite(client)
    auth.logout()
    for password in ("!invited", "invited", CHOSEN):
        answer = client.post(
            "/login",
            data={
                "email": "carol@example.com",
                "password": password,
                "csrf_token": auth.csrf_token(),
            },
        )
        assert answer.status_code == 401
        assert "Wrong email or password." in answer.get_data(as_text=True)


def test_signing_in_to_an_invitation_takes_a_real_checks_time(
    client, alice, auth, monkeypatch
):
    # An answer without the work of a password check would tell strangers
    # which addresses have an invitation.
    auth.login()
    invite(client)
    auth.logout()
    burned = []
    monkeypatch.setattr(security, "burn_password_check", burned.append)

    answer = client.post(
        "/login",
        data={
            "email": "carol@example.com",
            "password": "a guess",
            "csrf_token": auth.csrf_token(),
        },
    )

    assert answer.status_code == 401
    assert burned == ["a guess"]


def test_the_invitation_is_audited(app, client, as_alice):
    invite(client, is_admin="y")
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "user.invited")
        )
        assert (event.actor, event.target) == ("alice@example.com", "carol@example.com")
        assert event.after["is_admin"] is True


@pytest.mark.parametrize(
    ("email", "fields", "status", "error"),
    [
        ("bob@example.com", {}, 409, "already exists"),
        ("not-an-email", {}, 400, "valid email"),
        ("", {}, 400, "This field is required"),
        ("carol@example.com", {"quota": "lots"}, 400, "Write a size like"),
    ],
)
def test_bad_input_is_refused(app, client, as_alice, bob, email, fields, status, error):
    answer = invite(client, email, **fields)
    assert answer.status_code == status
    assert error in answer.get_data(as_text=True)
    with app.app_context():
        assert outbox.pending_count() == 0


def test_only_administrators_invite(app, client, alice, bob, auth):
    auth.login("bob@example.com")
    assert client.get("/admin/users/invite").status_code == 404
    answer = client.post(
        "/admin/users/invite",
        data={"email": "carol@example.com", "csrf_token": auth.csrf_token("/account")},
    )
    assert answer.status_code == 404
    assert stored_user(app, "carol@example.com") is None


def test_signed_out_visitors_are_sent_to_sign_in(client, alice):
    answer = client.get("/admin/users/invite")
    assert answer.status_code == 302
    assert answer.location.startswith("/login")


class TestWithoutMail:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "SMTP_URL": None}

    def test_the_pages_say_so(self, client, as_alice):
        assert 'href="/admin/users/invite"' not in client.get("/admin").get_data(
            as_text=True
        )
        assert "mail is not configured" in client.get("/admin/users/new").get_data(
            as_text=True
        )
        page = client.get("/admin/users/invite").get_data(as_text=True)
        assert "This vault cannot send email" in page
        assert 'name="email"' not in page

    def test_reset_links_are_not_mailed(self, client, as_alice, bob):
        page = client.get(f"/admin/users/{bob.id}").get_data(as_text=True)
        assert "Mail a reset link" not in page
        assert "Mail is not configured" in page
        answer = mail_reset(client, bob.id)
        assert answer.status_code == 409
        assert "cannot send email" in answer.get_data(as_text=True)

    def test_an_invitation_is_refused(self, app, client, as_alice, auth):
        answer = client.post(
            "/admin/users/invite",
            data={
                "email": "carol@example.com",
                "csrf_token": auth.csrf_token("/account"),
            },
        )
        assert answer.status_code == 409
        assert "cannot send email" in answer.get_data(as_text=True)
        assert stored_user(app, "carol@example.com") is None


def test_the_command_line_invites(app, runner, smtp, deliver):
    result = runner.invoke(args=["users", "invite", "dave@example.com", "--admin"])
    assert result.exit_code == 0, result.output
    assert "Invited dave@example.com" in result.output
    assert stored_user(app, "dave@example.com").is_admin
    assert deliver() == (1, 0)
    assert "An administrator made you an account" in body(smtp.inbox.wait_for(1)[0])
    again = runner.invoke(args=["users", "invite", "dave@example.com"])
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_the_command_line_says_when_mail_is_off(app, runner):
    app.config["SMTP"] = None
    result = runner.invoke(args=["users", "invite", "dave@example.com"])
    assert result.exit_code == 1
    assert "cannot send email" in result.output
    assert stored_user(app, "dave@example.com") is None


def mail_reset(client, account_id):
    page = client.get(f"/admin/users/{account_id}").get_data(as_text=True)
    return client.post(
        f"/admin/users/{account_id}/password-reset-mail",
        data={"csrf_token": csrf_token_from(page)},
    )


def test_an_administrator_mails_a_reset_link(app, client, as_alice, bob, smtp, deliver):
    page = client.get(f"/admin/users/{bob.id}").get_data(as_text=True)
    assert "Mail a reset link" in page
    answer = mail_reset(client, bob.id)
    assert answer.status_code == 302
    shown = client.get(answer.location).get_data(as_text=True)
    assert "is on its way to bob@example.com" in shown
    assert deliver() == (1, 0)
    (message,) = smtp.inbox.wait_for(1)
    assert message["To"] == "bob@example.com"
    assert "alice@example.com, an administrator, sent you a link" in body(message)
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.target == "bob@example.com")
        ).all()
        assert "password.reset_issued" in actions
        assert "password.reset_mailed" not in actions  # no visitor asked
    client.post("/logout", data={"csrf_token": csrf_token_from(shown)})
    assert choose(client, reset_link(message)).status_code == 302


def test_only_administrators_mail_reset_links(client, alice, bob, auth, smtp, deliver):
    auth.login("bob@example.com")
    answer = client.post(
        f"/admin/users/{alice.id}/password-reset-mail",
        data={"csrf_token": auth.csrf_token("/account")},
    )
    assert answer.status_code == 404
    assert deliver() == (0, 0)


def test_mailing_a_reset_link_of_no_account_is_not_found(client, as_alice, auth):
    answer = client.post(
        "/admin/users/0123456789abcdef0123456789abcdef/password-reset-mail",
        data={"csrf_token": auth.csrf_token("/account")},
    )
    assert answer.status_code == 404


def test_mailing_a_reset_link_needs_the_forms_token(app, client, as_alice, bob):
    answer = client.post(f"/admin/users/{bob.id}/password-reset-mail", data={})
    assert answer.status_code == 400
    with app.app_context():
        assert outbox.pending_count() == 0
