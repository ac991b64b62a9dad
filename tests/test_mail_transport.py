"""Sending over SMTP: settings, TLS, sign-in, failures retried and logged safely."""

import contextlib
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import PASSWORD as USER_PASSWORD
from tests.conftest import base_config, fresh_app
from tests.mailserver import self_signed_certificate, smtp_server
from tests.servers import free_port
from vault import create_app, mail
from vault.extensions import db
from vault.models import utcnow
from vault.models_upkeep import OutboxMail
from vault.services import mail_messages, outbox, recovery


def test_settings_are_read_from_the_url():
    settings = mail.parse_settings("smtps://me%40example.com:p%3Ass@mail.example")
    assert (settings.implicit_tls, settings.host, settings.port) == (
        True,
        "mail.example",
        465,
    )
    assert (settings.username, settings.password) == ("me@example.com", "p:ss")
    plain = mail.parse_settings("smtp://relay.example", "required")
    assert (plain.port, plain.username, plain.starttls) == (587, None, "required")
    assert "p:ss" not in repr(settings) and "p%3Ass" not in repr(settings)


@pytest.mark.parametrize(
    ("url", "starttls", "error"),
    [
        ("http://mail.example", "auto", "must be smtp://"),
        ("smtp://", "auto", "must be smtp://"),
        ("smtp://mail.example:99999", "auto", "must be smtp://"),
        ("smtp://mail.example/x", "auto", "takes no path"),
        ("smtp://mail.example?starttls=required", "auto", "takes no path"),
        ("smtp://mail.example", "sometimes", "VAULT_SMTP_STARTTLS"),
    ],
)
def test_bad_settings_stop_the_start(tmp_path, url, starttls, error):
    config = {**base_config(tmp_path), "BASE_URL": "https://vault.example"}
    config.update(SMTP_URL=url, SMTP_STARTTLS=starttls, MAIL_FROM="v@vault.example")
    with pytest.raises(ValueError, match=error):
        create_app(config)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"MAIL_FROM": None}, "VAULT_MAIL_FROM"),
        ({"MAIL_FROM": "no address"}, "VAULT_MAIL_FROM"),
        ({"MAIL_FROM": "v@vault.example\r\nBcc: x@evil.example"}, "VAULT_MAIL_FROM"),
        ({"BASE_URL": None}, "VAULT_BASE_URL"),
    ],
)
def test_mail_needs_a_sender_and_the_base_url(tmp_path, changes, error):
    config = {
        **base_config(tmp_path),
        "SMTP_URL": "smtp://relay.example",
        "MAIL_FROM": "v@vault.example",
        "BASE_URL": "https://vault.example",
        **changes,
    }
    with pytest.raises(ValueError, match=error):
        create_app(config)


def test_a_failure_is_described_without_the_password():
    settings = mail.parse_settings("smtp://u:hunter2hunter2@mail.example")
    error = OSError("server said: bad login u hunter2hunter2\r\nbye")
    text = mail.describe_failure(error, settings)
    assert text == "OSError: server said: bad login u *** bye"


@pytest.fixture
def queue_one(app):
    """Queue a reset mail for alice (the first account of the app)."""

    def queue(email="alice@example.com"):
        with app.app_context():
            recovery.request_password_reset(email, "192.0.2.1")

    return queue


@contextlib.contextmanager
def app_sending_to(tmp_path, server, **settings):
    """An app of its own that sends to `server`, with a reset mail queued."""
    with fresh_app({**base_config(tmp_path), **server.settings(**settings)}) as app:
        with app.app_context():
            factories.create_user("alice@example.com", USER_PASSWORD)
            recovery.request_password_reset("alice@example.com", "192.0.2.1")
        yield app


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_tls_protects_the_sign_in(tmp_path, monkeypatch, mode):
    """The server's certificate is checked, as any other: here it is trusted."""
    context, cert = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    with smtp_server(context, mode) as server, app_sending_to(tmp_path, server) as app:
        with app.app_context():
            assert outbox.deliver_pending() == (1, 0)
        assert server.inbox.wait_for(1)[0]["To"] == "alice@example.com"
        assert server.inbox.logins == ["vault-mailer"]


def test_an_unknown_certificate_is_refused(tmp_path, caplog):
    context, _ = self_signed_certificate(tmp_path)
    with (
        smtp_server(context, "starttls") as server,
        app_sending_to(tmp_path, server) as app,
        app.app_context(),
    ):
        assert outbox.deliver_pending() == (0, 1)
    assert server.inbox.messages == []
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


def test_the_background_sender_sends_without_being_asked(tmp_path, smtp):
    with app_sending_to(tmp_path, smtp, MAIL_POLL_SECONDS=3600) as app:
        app.test_client().get("/login")  # a first request starts the sender
        try:
            assert smtp.inbox.wait_for(1)[0]["To"] == "alice@example.com"
            with app.app_context():
                recovery.request_password_reset("alice@example.com", "192.0.2.1")
            # Woken by the commit, not by the hourly poll.
            assert len(smtp.inbox.wait_for(2)) == 2
        finally:
            app.extensions["vault.mail_sender"].stop()


@pytest.fixture
def app_config(app_config, smtp):
    return {**app_config, **smtp.settings()}


def rows(app) -> list[OutboxMail]:
    with app.app_context():
        found = db.session.scalars(select(OutboxMail)).all()
        for row in found:
            db.session.expunge(row)
        return found


def test_required_starttls_sends_nothing_without_it(
    app, alice, smtp, queue_one, deliver
):
    app.config["SMTP"] = mail.parse_settings(smtp.settings()["SMTP_URL"], "required")
    queue_one()
    assert deliver() == (0, 1)
    assert smtp.inbox.messages == []


def test_failures_are_retried_then_given_up_and_logged_safely(
    app, alice, smtp, queue_one, deliver, caplog
):
    app.config["SMTP"] = mail.parse_settings(
        f"smtp://vault-mailer:wrong-secret-pw@127.0.0.1:{smtp.port}"
    )
    queue_one()
    caplog.set_level(logging.WARNING)
    now = utcnow()
    for attempt in range(1, len(outbox.RETRY_DELAYS) + 1):
        assert deliver(now) == (0, 1)
        (row,) = rows(app)
        assert row.attempts == attempt
        assert row.send_after == now + outbox.RETRY_DELAYS[attempt - 1]
        assert deliver(now) == (0, 0)  # not before its time
        now = row.send_after
    assert deliver(now) == (0, 1)
    assert rows(app) == []
    assert "giving up after 5 attempts" in caplog.text
    assert "SMTPAuthenticationError" in caplog.text
    assert "wrong-secret-pw" not in caplog.text
    assert "/reset/" not in caplog.text
    assert smtp.inbox.messages == []


def test_an_unreachable_server_is_tried_again(app, alice, queue_one, deliver):
    app.config["SMTP"] = mail.parse_settings(f"smtp://127.0.0.1:{free_port()}")
    queue_one()
    assert deliver() == (0, 1)
    assert rows(app)[0].attempts == 1


def test_each_mail_is_claimed_when_its_turn_comes(
    app, alice, smtp, queue_one, deliver, monkeypatch
):
    # A slow server: each mail takes longer to send than a lease lasts. A
    # lease taken for the whole batch at its start would have run out before
    # the second mail was sent, and another sender would send it too.
    queue_one()
    queue_one()
    clock = [utcnow()]
    claims = []
    claim, send = outbox._claim, mail.send

    def slow_send(settings, message):
        clock[0] += outbox.LEASE + timedelta(minutes=1)
        send(settings, message)

    def claim_noted(mail_id, now):
        claims.append(now)
        return claim(mail_id, now)

    monkeypatch.setattr(outbox, "utcnow", lambda: clock[0])
    monkeypatch.setattr(outbox, "_claim", claim_noted)
    monkeypatch.setattr(mail, "send", slow_send)

    assert deliver() == (2, 0)
    assert claims[1] - claims[0] == outbox.LEASE + timedelta(minutes=1)


def test_a_mail_another_sender_holds_is_left_alone(
    app, alice, smtp, queue_one, deliver
):
    queue_one()
    with app.app_context():
        db.session.execute(
            OutboxMail.__table__.update().values(
                locked_until=utcnow() + timedelta(minutes=1)
            )
        )
        db.session.commit()
    assert deliver() == (0, 0)
    assert deliver(utcnow() + timedelta(minutes=2)) == (1, 0)


def test_the_command_line_sends_the_outbox(app, runner, alice, smtp, queue_one):
    queue_one()
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "Sent 1, failed 0; 0 waiting." in result.output
    assert smtp.inbox.wait_for(1)[0]["To"] == "alice@example.com"


def test_the_command_line_sends_a_test_message(runner, smtp):
    result = runner.invoke(args=["mail", "test", "admin@example.com"])
    assert result.exit_code == 0, result.output
    assert smtp.inbox.wait_for(1)[0]["Subject"] == "Test message from vault"
    bad = runner.invoke(args=["mail", "test", "not an address"])
    assert bad.exit_code == 1
    assert "valid email" in bad.output


def test_the_command_line_says_when_mail_is_off(app, runner):
    app.config["SMTP"] = None
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 1
    assert "VAULT_SMTP_URL is not set" in result.output


def test_the_password_never_goes_out_without_tls(
    app, alice, smtp, queue_one, deliver, monkeypatch, caplog
):
    """Only to this machine: a server elsewhere must offer STARTTLS first."""
    monkeypatch.setattr(mail, "_is_loopback", lambda host: False)
    queue_one()
    assert deliver() == (0, 1)
    assert "not sending the SMTP password over a connection without TLS" in (
        caplog.text
    )
    assert smtp.inbox.logins == []


def test_a_mail_that_cannot_be_composed_is_a_failed_attempt(
    app, alice, smtp, queue_one, deliver, monkeypatch, caplog
):
    def broken(row, now):
        raise RuntimeError("a bug in a template")

    monkeypatch.setitem(mail_messages.BUILDERS, "password_reset", broken)
    queue_one()
    assert deliver() == (0, 1)
    (row,) = rows(app)
    assert row.attempts == 1
    assert "could not compose it" in caplog.text
    assert smtp.inbox.messages == []
