"""Mail that tells people what happened: security notices, uploads, opting out."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.conftest import PASSWORD, csrf_token_from
from tests.mailserver import body
from tests.test_shares_public import change_link, make_link
from tests.test_shares_public_uploads import send
from vault.extensions import db
from vault.models import ShareLink, User, utcnow
from vault.services import accounts, notices, outbox

pytestmark = pytest.mark.bytes


@pytest.fixture
def app_config(app_config, smtp):
    return {**app_config, **smtp.settings()}


def account_form(client, path, **fields):
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    return client.post(path, data={**fields, "csrf_token": token})


def test_a_password_change_is_told(client, as_alice, smtp, deliver):
    answer = account_form(
        client,
        "/account/password",
        current_password=PASSWORD,
        new_password="another long password",
        confirm="another long password",
    )
    assert answer.status_code == 302
    deliver()
    (message,) = smtp.inbox.wait_for(1)
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == "Your vault password was changed"
    assert "Forgot your password?" in body(message)


def test_an_email_change_is_told_to_the_old_address(
    app, client, as_alice, smtp, deliver
):
    answer = account_form(
        client,
        "/account/email",
        **{"email-new_email": "Alice@New.example", "email-current_password": PASSWORD},
    )
    assert answer.status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "Your email is now alice@new.example." in page
    deliver()
    (message,) = smtp.inbox.wait_for(1)
    assert message["To"] == "alice@example.com"
    assert "changed from this address to alice@new.example." in body(message)


def test_links_mailed_to_the_old_address_stop_working(app, client, as_alice, alice):
    with app.app_context():
        token, _ = accounts.new_password_reset(
            db.session.get(User, alice.id), utcnow(), timedelta(hours=1)
        )
        db.session.commit()
    assert client.get(f"/reset/{token}").status_code == 200

    account_form(
        client,
        "/account/email",
        **{"email-new_email": "alice@new.example", "email-current_password": PASSWORD},
    )

    assert client.get(f"/reset/{token}").status_code == 404


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        (
            {"email-new_email": "x@new.example", "email-current_password": "wrong"},
            401,
            "current password is not correct",
        ),
        (
            {"email-new_email": "bob@example.com", "email-current_password": PASSWORD},
            409,
            "Another account has that email",
        ),
        (
            {"email-new_email": "not-an-email", "email-current_password": PASSWORD},
            400,
            "valid email",
        ),
        (
            {"email-new_email": "", "email-current_password": PASSWORD},
            400,
            "This field is required",
        ),
    ],
)
def test_a_bad_email_change_is_refused(
    app, client, as_alice, bob, deliver, smtp, fields, status, error
):
    answer = account_form(client, "/account/email", **fields)
    assert answer.status_code == status
    assert error in answer.get_data(as_text=True)
    assert deliver() == (0, 0)
    assert smtp.inbox.messages == []


def test_the_email_change_needs_a_session(client, alice, auth):
    answer = client.post(
        "/account/email",
        data={
            "email-new_email": "x@new.example",
            "email-current_password": PASSWORD,
            "csrf_token": auth.csrf_token(),
        },
    )
    assert answer.status_code == 302
    assert answer.location.startswith("/login")


def test_a_new_api_token_is_told(client, as_alice, smtp, deliver):
    assert account_form(client, "/account/tokens", name="laptop").status_code == 201
    deliver()
    (message,) = smtp.inbox.wait_for(1)
    assert message["Subject"] == "A new API token was made for your vault account"
    assert '"laptop"' in body(message)
    assert "vault_" not in body(message)  # never the token itself


def test_uploads_are_told_at_most_once_per_link_in_a_while(
    app, client, alice, make_folder, smtp, deliver
):
    folder = make_folder(alice, "Inbox")
    link = make_link(app, alice, folder, kind="upload", max_files=10)
    assert send(client, link, [("a.txt", b"a")], sender="Carol").status_code == 302
    assert deliver() == (1, 0)
    (first,) = smtp.inbox.wait_for(1)
    assert first["To"] == "alice@example.com"
    assert "a.txt (from Carol)" in body(first)

    send(client, link, [("b.txt", b"b")])
    send(client, link, [("c.txt", b"c"), ("d.txt", b"d")])
    assert deliver() == (0, 0)  # the next one waits out the few minutes
    later = utcnow() + timedelta(minutes=app.config["UPLOAD_NOTICE_MINUTES"])
    assert deliver(later) == (1, 0)
    second = smtp.inbox.wait_for(2)[1]
    assert "3 files were uploaded" in body(second)
    assert "a.txt" not in body(second)
    assert [name in body(second) for name in ("b.txt", "c.txt", "d.txt")] == [True] * 3


def test_a_quiet_link_is_told_at_once_again(
    app, client, alice, make_folder, smtp, deliver
):
    folder = make_folder(alice, "Inbox")
    link = make_link(app, alice, folder, kind="upload")
    send(client, link, [("a.txt", b"a")])
    deliver()
    change_link(app, link, upload_notice_at=utcnow() - timedelta(hours=1))
    send(client, link, [("b.txt", b"b")])
    assert deliver() == (1, 0)
    assert "b.txt" in body(smtp.inbox.wait_for(2)[1])


def test_upload_notices_can_be_turned_off(
    app, client, as_alice, make_folder, smtp, deliver
):
    page = client.get("/account").get_data(as_text=True)
    assert '<input checked id="notify_uploads"' in page
    assert account_form(client, "/account/notices").status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert '<input id="notify_uploads"' in page

    link = make_link(app, as_alice, make_folder(as_alice, "Inbox"), kind="upload")
    send(client, link, [("a.txt", b"a")])
    assert deliver() == (0, 0)
    with app.app_context():
        assert outbox.pending_count() == 0

    assert (
        account_form(client, "/account/notices", notify_uploads="y").status_code == 302
    )
    send(client, link, [("b.txt", b"b")])
    assert deliver() == (1, 0)


def test_turning_off_after_queueing_still_sends_nothing(
    app, client, as_alice, make_folder, smtp, deliver
):
    link = make_link(app, as_alice, make_folder(as_alice, "Inbox"), kind="upload")
    send(client, link, [("a.txt", b"a")])
    account_form(client, "/account/notices")
    assert deliver() == (0, 0)
    assert smtp.inbox.messages == []


def test_the_preferences_need_the_forms_token(client, as_alice):
    answer = client.post("/account/notices", data={})
    assert answer.status_code == 400


class TestWithoutMail:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "SMTP_URL": None}

    def test_nothing_is_queued(self, app, client, as_alice, make_folder, smtp):
        account_form(client, "/account/tokens", name="laptop")
        link = make_link(app, as_alice, make_folder(as_alice, "Inbox"), kind="upload")
        send(client, link, [("a.txt", b"a")])
        page = client.get("/account").get_data(as_text=True)
        assert "This vault sends no email now" in page
        with app.app_context():
            assert outbox.pending_count() == 0
        assert smtp.inbox.messages == []


def test_uploads_in_another_process_meanwhile_queue_no_second_notice(
    app, alice, make_folder
):
    """The link's notice time is a compare-and-set: a stale copy loses."""
    link = make_link(app, alice, make_folder(alice, "Inbox"), kind="upload")
    with app.app_context():
        share = db.session.get(ShareLink, link.id)
        assert share.upload_notice_at is None
        # Another process took the notice after this one read the link.
        with db.engine.begin() as other:
            other.execute(
                update(ShareLink)
                .where(ShareLink.id == link.id)
                .values(upload_notice_at=utcnow())
            )
        notices.uploads_received(share, utcnow())
        db.session.commit()
        assert outbox.pending_count() == 0


def test_a_token_made_through_the_api_is_told_too(client, alice, smtp, deliver):
    answer = client.post(
        "/api/v1/tokens",
        json={"email": "alice@example.com", "password": PASSWORD, "name": "script"},
    )
    assert answer.status_code == 201
    assert deliver() == (1, 0)
    assert '"script"' in body(smtp.inbox.wait_for(1)[0])
