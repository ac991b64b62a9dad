"""Guessing passwords: slow for a guesser, never a lockout of the innocent.

Per account, a back-off that doubles after each failure up to a cap; per
client address, a lockout only for a large volume spread over many accounts.
"""

from datetime import datetime, timedelta

import pytest

from tests import factories
from tests.conftest import PASSWORD, AuthActions
from vault.errors import AuthenticationFailed, TooManyAttempts
from vault.models import utcnow
from vault.services import accounts, throttle

START = datetime(2030, 1, 1, 12, 0)
HOME = "203.0.113.5"  # one router: a household, an office, a proxy
ELSEWHERE = "198.51.100.7"
CAROL = "carol@example.com"


@pytest.fixture
def carol(make_user):
    return make_user(CAROL)


def at(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return AuthActions(client)


def wrong(email, address, now):
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate(email, "a wrong guess", address, now=now)


def wait_for(email, address, now) -> int:
    """Return the seconds the right password is told to wait."""
    with pytest.raises(TooManyAttempts) as refused:
        accounts.authenticate(email, PASSWORD, address, now=now)
    return refused.value.retry_after


def signs_in(email, address, now) -> bool:
    return accounts.authenticate(email, PASSWORD, address, now=now).email == email


# --- per account: a back-off -------------------------------------------------


def test_each_failure_doubles_the_wait_up_to_the_cap(app, carol):
    free = app.config["LOGIN_BACKOFF_AFTER"]
    longest = app.config["LOGIN_BACKOFF_MAX_SECONDS"]
    with app.app_context():
        for _ in range(free - 1):
            wrong(CAROL, HOME, START)
        moment, waits = START, []
        for _ in range(13):
            wrong(CAROL, HOME, moment)
            waits.append(wait_for(CAROL, HOME, moment))
            moment += timedelta(seconds=waits[-1])

        assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, *[longest] * 3]
        # The owner's password works as soon as the wait has passed.
        assert signs_in(CAROL, HOME, moment)


def test_the_back_off_counts_failures_from_every_address(app, carol):
    free = app.config["LOGIN_BACKOFF_AFTER"]
    with app.app_context():
        for number in range(free):
            wrong(CAROL, f"192.0.2.{number + 1}", START)

        assert wait_for(CAROL, ELSEWHERE, START) == 1


def test_a_guesser_keeping_to_the_pace_keeps_the_longest_wait(app, carol):
    longest = app.config["LOGIN_BACKOFF_MAX_SECONDS"]
    with app.app_context():
        factories.back_off_fully(CAROL, HOME, START)
        later = START + timedelta(seconds=longest)
        wrong(CAROL, ELSEWHERE, later)

        assert wait_for(CAROL, HOME, later) == longest


def test_failures_are_forgotten_after_the_window(app, carol):
    window = timedelta(seconds=app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    free = app.config["LOGIN_BACKOFF_AFTER"]
    with app.app_context():
        factories.back_off_fully(CAROL, HOME, START)
        # The earliest of them is older still, so every one is forgotten.
        for _ in range(free):
            wrong(CAROL, HOME, START + window)

        assert wait_for(CAROL, HOME, START + window) == 1


def test_signing_in_clears_the_back_off(app, carol):
    free = app.config["LOGIN_BACKOFF_AFTER"]
    with app.app_context():
        for _ in range(free):
            wrong(CAROL, HOME, START)
        assert signs_in(CAROL, HOME, START + timedelta(seconds=1))
        for _ in range(free):
            wrong(CAROL, HOME, START + timedelta(seconds=1))

        assert wait_for(CAROL, HOME, START + timedelta(seconds=1)) == 1


def test_a_backed_off_account_slows_down_no_other(app, alice, carol):
    with app.app_context():
        factories.back_off_fully(CAROL, HOME, START)

        assert signs_in("alice@example.com", HOME, START)


# --- per address: a lockout for guessing many accounts -----------------------


def test_an_address_is_locked_by_its_hundredth_failure(app, alice):
    limit = app.config["LOGIN_ADDRESS_MAX_FAILURES"]
    with app.app_context():
        factories.guess_many_accounts(HOME, limit - 1, START)
        # A sign-in in between does not wipe the address's count.
        assert signs_in("alice@example.com", HOME, START)
        wrong("one-more@example.com", HOME, START)

        assert wait_for("alice@example.com", HOME, START) == 3600
        assert signs_in("alice@example.com", ELSEWHERE, START)


def test_failures_on_a_few_accounts_never_lock_the_address(app, alice):
    # Faster than the back-off would let them in: the address rule alone.
    few = app.config["LOGIN_ADDRESS_MIN_ACCOUNTS"] - 1
    with app.app_context():
        for number in range(3 * app.config["LOGIN_ADDRESS_MAX_FAILURES"]):
            email = f"person{number % few}@example.com"
            throttle.record(throttle.sign_in_keys(email, HOME), START)

        assert signs_in("alice@example.com", HOME, START)

        throttle.record(throttle.sign_in_keys("one-more@example.com", HOME), START)

        assert wait_for("alice@example.com", HOME, START) > 0


def test_an_address_lockout_ends_with_its_window(app, alice):
    window = timedelta(seconds=app.config["LOGIN_ADDRESS_WINDOW_SECONDS"])
    with app.app_context():
        factories.guess_many_accounts(HOME, 100, START)

        assert signs_in("alice@example.com", HOME, START + window)


def test_an_ipv6_guesser_is_counted_by_its_network(app, alice):
    limit = app.config["LOGIN_ADDRESS_MAX_FAILURES"]
    with app.app_context():
        for number in range(limit):
            wrong(f"guess{number}@example.com", f"2001:db8:1:2::{number + 1:x}", START)

        assert wait_for("alice@example.com", "2001:db8:1:2::ffff", START) > 0
        assert signs_in("alice@example.com", "2001:db8:1:3::1", START)


# --- as people see it ----------------------------------------------------------


def test_ten_wrong_passwords_for_one_account_lock_out_nobody_else(
    app, alice, bob, carol
):
    household = [at(app, HOME) for _ in range(3)]
    typed = [household[0].login(CAROL, f"try {n}").status_code for n in range(10)]

    assert typed[: app.config["LOGIN_BACKOFF_AFTER"]] == [401] * 5
    assert household[1].login("bob@example.com").status_code == 302
    assert household[2].login("alice@example.com").status_code == 302  # the admin


def test_a_guessed_account_is_told_how_long_to_wait(app, bob, carol):
    with app.app_context():
        factories.back_off_fully(CAROL, HOME, utcnow())

    response = at(app, ELSEWHERE).login(CAROL)

    assert response.status_code == 429
    assert "Try again in 15 minutes." in response.get_data(as_text=True)
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert at(app, HOME).login("bob@example.com").status_code == 302


def test_an_address_guessing_many_accounts_is_locked_out(app, alice):
    with app.app_context():
        factories.guess_many_accounts(HOME, 100, utcnow())

    locked = at(app, HOME).login()

    assert locked.status_code == 429
    assert "Try again in" in locked.get_data(as_text=True)
    assert at(app, ELSEWHERE).login().status_code == 302
