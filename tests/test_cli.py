"""The operators' commands: `flask --app vault users ...`."""

from tests.conftest import PASSWORD, AuthActions, stored_user, user_count


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
