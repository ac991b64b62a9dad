"""Forgot your password: one mail, one working link, the same answer for all."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token_from
from tests.mailserver import body, reset_link
from tests.test_throttle_concurrency import post_together
from vault.errors import Gone
from vault.extensions import db
from vault.models import AuditEvent, utcnow
from vault.models_upkeep import OutboxMail
from vault.services import accounts, admin, outbox, recovery

SENT = "If an account has the address"
NEW_PASSWORD = "a brand new password"


@pytest.fixture
def app_config(app_config, smtp):
    return {**app_config, **smtp.settings()}


def ask(client, email="bob@example.com", **headers):
    token = csrf_token_from(client.get("/forgot-password").get_data(as_text=True))
    return client.post(
        "/forgot-password",
        data={"email": email, "csrf_token": token},
        follow_redirects=True,
        **headers,
    )


def same_page(html: str, address: str) -> str:
    """The page without what may differ: the typed address, the form's token."""
    return re.sub(r'value="[^"]+"', "", html.replace(address, "X@"))


def choose(client, path, password=None):
    password = password or NEW_PASSWORD
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    return client.post(
        path,
        data={"new_password": password, "confirm": password, "csrf_token": token},
    )


def test_the_sign_in_page_offers_it(client, bob, auth):
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/forgot-password"' in page
    # Above all after a wrong password.
    failed = auth.login("bob@example.com", "not my password")
    assert failed.status_code == 401
    assert 'href="/forgot-password"' in failed.get_data(as_text=True)


def test_mail_arrives_and_its_link_works_once(client, bob, smtp, deliver, auth):
    answer = ask(client)
    assert answer.status_code == 200
    assert SENT in answer.get_data(as_text=True)
    assert smtp.inbox.messages == []  # queued, not sent by the request

    assert deliver() == (1, 0)
    (message,) = smtp.inbox.wait_for(1)
    assert message["To"] == "bob@example.com"
    assert message["From"] == "Vault <vault@vault.example>"
    assert "one hour" in body(message)
    assert smtp.inbox.logins == ["vault-mailer"]
    path = reset_link(message)

    assert choose(client, path).status_code == 302
    assert auth.login("bob@example.com", NEW_PASSWORD).status_code == 302
    again = client.get(path)
    assert again.status_code == 410
    assert "already used. Ask for a new one with “Forgot your password?”" in (
        again.get_data(as_text=True)
    )


def test_an_unknown_email_gets_the_same_page_and_no_mail(client, bob, smtp, deliver):
    known = ask(client, "bob@example.com").get_data(as_text=True)
    unknown = ask(client, "nobody@example.com").get_data(as_text=True)

    assert SENT in unknown
    assert same_page(known, "bob@") == same_page(unknown, "nobody@")
    assert deliver() == (1, 0)
    assert [m["To"] for m in smtp.inbox.wait_for(1)] == ["bob@example.com"]


def test_both_answers_do_the_same_work(app, client, bob):
    """The account is looked up by the sender, so a request cannot be timed."""
    ask(client, "bob@example.com")
    ask(client, "nobody@example.com")
    with app.app_context():
        rows = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        assert [(r.kind, r.to_address, r.user_id) for r in rows] == [
            ("password_reset", "bob@example.com", None),
            ("password_reset", "nobody@example.com", None),
        ]


def test_a_disabled_account_gets_no_mail(app, client, alice, bob, smtp, deliver):
    with app.app_context():
        admin.set_disabled(None, admin.admin_overview.get_user(bob.id), True)
    assert SENT in ask(client).get_data(as_text=True)
    assert deliver() == (0, 0)
    assert smtp.inbox.messages == []


def test_a_newer_link_replaces_the_older(client, bob, smtp, deliver):
    ask(client)
    deliver()
    ask(client)
    deliver()
    first, second = smtp.inbox.wait_for(2)
    assert client.get(reset_link(first)).status_code == 404
    assert client.get(reset_link(second)).status_code == 200


def test_the_link_lasts_an_hour(app, client, bob, smtp, deliver):
    ask(client)
    deliver()
    (message,) = smtp.inbox.wait_for(1)
    with app.app_context():
        token = reset_link(message).rsplit("/", 1)[1]
        reset = accounts.password_reset_for(token)
        assert reset.expires_at - reset.created_at == timedelta(hours=1)
        with pytest.raises(Gone):
            accounts.password_reset_for(token, reset.expires_at)


def test_the_mailing_is_audited_without_the_link(app, client, bob, deliver):
    ask(client)
    deliver()
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "password.reset_mailed")
        )
        assert (event.actor, event.target) == ("visitor", "bob@example.com")
        assert "/reset/" not in str(event.after)


def test_bad_input_is_refused(client, bob):
    answer = ask(client, "not an address")
    assert answer.status_code == 400
    assert "valid email" in answer.get_data(as_text=True)
    assert ask(client, "").status_code == 400


def test_throttled_per_typed_address(app, client, bob):
    for _ in range(app.config["RESET_MAILS_PER_ACCOUNT"]):
        assert SENT in ask(client).get_data(as_text=True)
    answer = ask(client)
    assert answer.status_code == 429
    assert "Too many password reset requests" in answer.get_data(as_text=True)
    assert int(answer.headers["Retry-After"]) > 3000
    # Another address from the same client is not held back by it.
    assert ask(client, "carol@example.com").status_code == 200


def test_throttled_per_client_address(app, client, bob):
    app.config["RESET_MAILS_PER_ADDRESS"] = 2
    assert ask(client, "a@example.com").status_code == 200
    assert ask(client, "b@example.com").status_code == 200
    assert ask(client, "c@example.com").status_code == 429
    other = {"environ_base": {"REMOTE_ADDR": "192.0.2.7"}}
    assert ask(client, "c@example.com", **other).status_code == 200


def test_the_limit_lapses_after_an_hour(app, bob):
    with app.app_context():
        start = utcnow()
        for _ in range(3):
            recovery.request_password_reset("bob@example.com", "192.0.2.1", start)
        later = start + timedelta(hours=1, seconds=1)
        recovery.request_password_reset("bob@example.com", "192.0.2.1", later)
        assert outbox.pending_count() == 4


def test_the_form_needs_its_csrf_token(app, client, bob):
    answer = client.post("/forgot-password", data={"email": "bob@example.com"})
    assert answer.status_code == 400
    with app.app_context():
        assert outbox.pending_count() == 0


class TestWithoutMail:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "SMTP_URL": None}

    def test_the_pages_say_so(self, client, bob):
        assert "Ask an administrator" in client.get("/login").get_data(as_text=True)
        assert 'href="/forgot-password"' not in client.get("/login").get_data(
            as_text=True
        )
        page = client.get("/forgot-password").get_data(as_text=True)
        assert "cannot send email" in page
        assert 'name="email"' not in page

    def test_nothing_is_queued_nor_sent(self, app, client, bob, smtp, auth):
        answer = client.post(
            "/forgot-password",
            data={"email": "bob@example.com", "csrf_token": auth.csrf_token()},
        )
        assert answer.status_code == 409
        assert "cannot send email" in answer.get_data(as_text=True)
        with app.app_context():
            assert outbox.pending_count() == 0
        assert smtp.inbox.messages == []


def test_requests_sent_together_never_pass_the_limit(app, bob):
    """Each from its own client, as under a threaded server (both databases)."""
    requests = []
    for _ in range(8):
        client = app.test_client()
        token = csrf_token_from(client.get("/forgot-password").get_data(as_text=True))
        data = {"email": "bob@example.com", "csrf_token": token}
        requests.append((client, "/forgot-password", data))
    statuses = post_together(requests)
    limit = app.config["RESET_MAILS_PER_ACCOUNT"]
    assert statuses == [302] * limit + [429] * (8 - limit)
    with app.app_context():
        assert outbox.pending_count() == limit
