"""The operators' commands: `flask --app vault users ...`."""

import re

import pytest
from sqlalchemy import select

from tests.conftest import (
    PASSWORD,
    AuthActions,
    csrf_token_from,
    stored_user,
    user_count,
)
from vault.extensions import db
from vault.models import AuditEvent


def create(runner, *args, input=None):
    return runner.invoke(args=["users", "create", *args], input=input)


def test_create_reads_the_password_from_stdin(app, runner):
    result = create(
        runner, "Carol@Example.com", "--password-stdin", input=PASSWORD + "\n"
    )

    assert result.exit_code == 0, result.output
    assert "Created user carol@example.com" in result.output
    carol = stored_user(app, "carol@example.com")
    assert not carol.is_admin
    assert AuthActions(app.test_client()).login("carol@example.com").status_code == 302


def test_create_with_admin_flag_makes_an_administrator(app, runner):
    result = create(
        runner, "root@example.com", "--admin", "--password-stdin", input=PASSWORD
    )

    assert result.exit_code == 0, result.output
    assert "Created administrator root@example.com" in result.output
    assert stored_user(app, "root@example.com").is_admin


def test_create_prompts_for_the_password_twice(app, runner):
    result = create(runner, "dave@example.com", input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert AuthActions(app.test_client()).login("dave@example.com").status_code == 302


def test_create_refuses_differing_prompted_passwords(app, runner):
    result = create(runner, "dave@example.com", input=f"{PASSWORD}\nsomething else\n")

    assert result.exit_code != 0
    assert "do not match" in result.output
    assert stored_user(app, "dave@example.com") is None


def test_create_refuses_a_taken_email(app, runner, alice):
    result = create(
        runner, "ALICE@example.com", "--password-stdin", input=PASSWORD + "\n"
    )

    assert result.exit_code != 0
    assert "An account with that email already exists." in result.output
    assert user_count(app) == 1


def test_create_refuses_a_short_password(app, runner):
    result = create(runner, "erin@example.com", "--password-stdin", input="short\n")

    assert result.exit_code != 0
    assert "at least 8 characters" in result.output
    assert user_count(app) == 0


def test_create_refuses_a_malformed_email(app, runner):
    result = create(runner, "not-an-email", "--password-stdin", input=PASSWORD)

    assert result.exit_code != 0
    assert "Enter a valid email address." in result.output
    assert user_count(app) == 0


def test_list_shows_every_account_and_its_role(runner, alice, bob):
    result = runner.invoke(args=["users", "list"])

    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines()}
    assert set(lines) == {"alice@example.com", "bob@example.com"}
    assert " admin " in lines["alice@example.com"]
    assert " user " in lines["bob@example.com"]


# --- the admin commands ------------------------------------------------------


def users(runner, *args):
    return runner.invoke(args=["users", *args])


def audit_actions(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (event.action, event.actor)
            for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def test_create_takes_a_quota_and_is_audited(app, runner):
    result = create(
        runner,
        "erin@example.com",
        "--quota",
        "5 GB",
        "--password-stdin",
        input=PASSWORD,
    )

    assert result.exit_code == 0, result.output
    assert stored_user(app, "erin@example.com").quota_bytes == 5 * 10**9
    assert audit_actions(app) == [("user.created", "command line")]


def test_create_refuses_a_quota_that_is_no_size(app, runner):
    result = create(
        runner,
        "erin@example.com",
        "--quota",
        "lots",
        "--password-stdin",
        input=PASSWORD,
    )

    assert result.exit_code != 0
    assert "unlimited" in result.output
    assert user_count(app) == 0


@pytest.mark.bytes
def test_list_shows_usage_and_files_and_searches(runner, alice, bob, upload):
    upload(bob, "a.txt", b"x" * 1500)

    everyone = users(runner, "list")
    found = users(runner, "list", "--search", "BOB")
    by_usage = users(runner, "list", "--sort", "usage")

    assert everyone.exit_code == 0, everyone.output
    [bob_line] = found.output.splitlines()
    assert "bob@example.com" in bob_line
    assert "1.5 kB / unlimited" in bob_line and "1 file" in bob_line
    assert "alice@example.com" in by_usage.output.splitlines()[1]


def test_list_refuses_an_unknown_sort(runner, alice):
    result = users(runner, "list", "--sort", "password")

    assert result.exit_code != 0


@pytest.mark.parametrize(
    ("size", "expected"),
    [("10 GB", 10 * 10**9), ("512MiB", 512 * 1024**2), ("unlimited", None)],
)
def test_set_quota_takes_human_units(app, runner, bob, size, expected):
    result = users(runner, "set-quota", "BOB@example.com", size)

    assert result.exit_code == 0, result.output
    assert stored_user(app, "bob@example.com").quota_bytes == expected


def test_set_quota_refuses_a_bad_size_or_an_unknown_user(app, runner, bob):
    bad_size = users(runner, "set-quota", "bob@example.com", "a lot")
    nobody = users(runner, "set-quota", "nobody@example.com", "1 GB")

    assert bad_size.exit_code != 0 and "unlimited" in bad_size.output
    assert nobody.exit_code != 0
    assert "no account with the email nobody@example.com" in nobody.output
    assert audit_actions(app) == []


def test_disable_signs_out_and_enable_lets_in_again(app, runner, bob):
    browser = AuthActions(app.test_client())
    browser.login("bob@example.com")

    disabled = users(runner, "disable", "bob@example.com")
    signed_out = browser._client.get("/account").status_code
    refused = browser.login("bob@example.com").status_code
    enabled = users(runner, "enable", "bob@example.com")

    assert disabled.exit_code == enabled.exit_code == 0
    assert "Disabled bob@example.com" in disabled.output
    assert (signed_out, refused) == (302, 401)
    assert browser.login("bob@example.com").status_code == 302
    assert audit_actions(app) == [
        ("user.disabled", "command line"),
        ("sign_in.refused", "visitor"),
        ("user.enabled", "command line"),
    ]


def test_promote_and_demote(app, runner, alice, bob):
    promoted = users(runner, "promote", "bob@example.com")
    demoted = users(runner, "demote", "alice@example.com")

    assert promoted.exit_code == demoted.exit_code == 0, demoted.output
    assert stored_user(app, "bob@example.com").is_admin
    assert not stored_user(app, "alice@example.com").is_admin


@pytest.mark.parametrize("command", ["demote", "disable"])
def test_the_last_admin_stays(app, runner, alice, bob, command):
    result = users(runner, command, "alice@example.com")

    assert result.exit_code != 0
    assert "last administrator" in result.output
    alice_now = stored_user(app, "alice@example.com")
    assert alice_now.is_admin and not alice_now.disabled


def test_reset_password_prints_a_one_time_path(app, runner, bob):
    result = users(runner, "reset-password", "bob@example.com")

    assert result.exit_code == 0, result.output
    path = result.stdout.strip()
    assert re.fullmatch(r"/reset/[A-Za-z0-9_-]{43}", path)
    assert result.stderr == (
        "VAULT_BASE_URL is not set: put the vault's address in front of this path.\n"
    )
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200
    client.post(
        path,
        data={
            "new_password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )
    assert (
        AuthActions(client)
        .login("bob@example.com", "a brand new passphrase")
        .status_code
        == 302
    )
    assert client.get(path).status_code == 410


def test_reset_password_help_says_the_address_is_missing(runner):
    result = users(runner, "reset-password", "--help")

    assert "does not know" in result.output


def test_reset_password_of_an_unknown_user_fails(runner, alice):
    result = users(runner, "reset-password", "nobody@example.com")

    assert result.exit_code != 0
    assert "no account" in result.output


def test_reset_password_prints_the_whole_link_with_a_base_url(app, runner, bob):
    app.config["BASE_URL"] = "https://vault.example.com:8443/files"

    result = users(runner, "reset-password", "bob@example.com")

    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert re.fullmatch(
        r"https://vault\.example\.com:8443/files/reset/[A-Za-z0-9_-]{43}", link
    )
    assert result.stderr == ""
