"""A back-off lets one guess in per wait, however many are sent at once.

Guesses sent together as a wait ends must not all pass the check made before
any of them is counted. Each thread is a separate client of the same app, so
every request has its own database session and connection, as under a
threaded server. The suite runs this on SQLite and, with
VAULT_TEST_DATABASE_URL, on PostgreSQL.
"""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import AuthActions, csrf_token_from
from tests.test_shares_public import make_link, outcomes
from vault.errors import AuthenticationFailed
from vault.extensions import db
from vault.models import AuditEvent, LoginFailure, ShareLink, utcnow
from vault.services import accounts, share_access, throttle

GUESSERS = 8
CAROL = "carol@example.com"
PASSWORD = "open sesame"
HOME = "203.0.113.5"


def post_together(requests) -> list[int]:
    """Send every prepared request at once, each from its own client."""
    start = threading.Barrier(len(requests))
    statuses: list[int] = []

    def send(client, url, data):
        start.wait()
        statuses.append(client.post(url, data=data).status_code)

    threads = [threading.Thread(target=send, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(statuses) == len(requests), "a guess hung"
    return sorted(statuses)


def sign_in_guesses(app, emails: list[str], addresses: list[str]):
    """Prepare one wrong sign-in per email, each from its own client."""
    guesses = []
    for number, (email, address) in enumerate(zip(emails, addresses, strict=True)):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        data = {
            "email": email,
            "password": f"guess {number}",
            "csrf_token": AuthActions(client).csrf_token(),
        }
        guesses.append((client, "/login", data))
    return guesses


def failures(app, key: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).where(LoginFailure.key == key))


@pytest.fixture
def carol(make_user):
    return make_user(CAROL)


def test_guesses_sent_together_as_a_wait_ends_get_one_try(app, carol):
    free = app.config["LOGIN_BACKOFF_AFTER"]
    with app.app_context():
        # Backed off a minute ago: the wait of one second is over.
        for _ in range(free):
            with pytest.raises(AuthenticationFailed):
                accounts.authenticate(
                    CAROL, "a wrong guess", "192.0.2.1", utcnow() - timedelta(minutes=1)
                )
    addresses = [f"198.51.100.{number + 1}" for number in range(GUESSERS)]
    guesses = sign_in_guesses(app, [CAROL] * GUESSERS, addresses)

    statuses = post_together(guesses)

    assert statuses == [401] + [429] * (GUESSERS - 1)
    assert failures(app, throttle.account_key(CAROL)) == free + 1


def test_guesses_sent_together_lock_an_address_at_its_limit(app, carol):
    limit = app.config["LOGIN_ADDRESS_MAX_FAILURES"]
    with app.app_context():
        factories.guess_many_accounts(HOME, limit - 1, utcnow())
    emails = [f"other{number}@example.com" for number in range(GUESSERS)]
    guesses = sign_in_guesses(app, emails, [HOME] * GUESSERS)

    statuses = post_together(guesses)

    assert statuses == [401] + [429] * (GUESSERS - 1)
    assert failures(app, f"address:{HOME}") == limit
    with app.app_context():
        locked = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "sign_in.locked")
        ).all()
        assert [event.after for event in locked] == [{"locked": ["address"]}]


def test_a_guess_cut_off_while_checked_counts_as_one_failure(app, carol):
    # The worker dies after counting the guess, before knowing if it was right.
    with app.app_context():
        throttle.admit(throttle.sign_in_keys(CAROL, HOME), utcnow())

    assert failures(app, throttle.account_key(CAROL)) == 1
    assert AuthActions(app.test_client()).login(CAROL).status_code == 302
    assert failures(app, throttle.account_key(CAROL)) == 0


def test_link_passwords_sent_together_as_a_wait_ends_get_one_try(app, alice, upload):
    file = upload(alice, "secret.txt", b"not for everyone\n")
    link = make_link(app, alice, file, password=PASSWORD)
    free = app.config["LOGIN_BACKOFF_AFTER"]
    with app.app_context():
        share = db.session.get(ShareLink, link.id)
        for _ in range(free):
            with pytest.raises(AuthenticationFailed):
                share_access.check_password(
                    share, "a wrong guess", "192.0.2.1", utcnow() - timedelta(minutes=1)
                )
    guesses = []
    for number in range(GUESSERS):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{number + 1}"
        page = client.get(link.url).get_data(as_text=True)
        data = {"password": f"guess {number}", "csrf_token": csrf_token_from(page)}
        guesses.append((client, f"{link.url}/unlock", data))

    statuses = post_together(guesses)

    assert statuses == [401] + [429] * (GUESSERS - 1)
    assert failures(app, f"share:{link.id}") == free + 1
    assert outcomes(app, link).count("wrong_password") == 1
