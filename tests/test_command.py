"""The `vault` command: the app's whole command line, and `vault serve`."""

import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from flask_migrate import stamp
from sqlalchemy import text

from tests.conftest import PASSWORD, stored_user
from tests.servers import PROJECT_ROOT
from vault import command
from vault.extensions import db


@pytest.fixture
def settings(app, monkeypatch, tmp_path):
    """Point `vault` at the test app's database and store, from tmp_path."""
    values = {
        "VAULT_INSTANCE_DIR": str(tmp_path / "instance"),
        "VAULT_DATABASE_URL": app.config["DATABASE_URL"],
        "VAULT_STORAGE_URL": app.config["STORAGE_URL"],
        "VAULT_SECRET_KEY": app.config["SECRET_KEY"],
        "VAULT_PASSWORD_HASH_PROFILE": "CHEAPEST",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    made = []
    create_app = command.main.create_app

    def recording_create_app():
        made.append(create_app())
        return made[-1]

    monkeypatch.setattr(command.main, "create_app", recording_create_app)
    yield values
    for made_app in made:  # their pools, or PostgreSQL connections outlive the test
        with made_app.app_context():
            db.engine.dispose()


@pytest.fixture
def exec_calls(monkeypatch) -> list[list[str]]:
    """Record what `vault serve` would exec instead of replacing the test."""
    calls = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append([path, *argv]))
    return calls


def vault(*args: str, input: str | None = None):
    return CliRunner().invoke(command.main, args, input=input)


def test_vault_has_the_apps_commands_and_serve(settings):
    result = vault("--help")

    listed = result.output.split("Commands:")[1]
    names = {line.split()[0] for line in listed.splitlines() if line.strip()}
    assert result.exit_code == 0
    assert {"db", "users", "fsck", "cleanup", "purge-trash", "serve"} <= names
    assert "run" not in names  # Werkzeug's development server is not how to serve


def test_vault_users_create_makes_an_account(app, settings):
    result = vault(
        "users", "create", "carol@example.com", "--password-stdin", input=PASSWORD
    )

    assert result.exit_code == 0, result.output
    assert stored_user(app, "carol@example.com") is not None


def test_an_unknown_command_is_refused_by_name(settings):
    result = vault("serv")

    assert result.exit_code == 2
    assert "No such command 'serv'" in result.output


def test_vault_version_names_vault(settings):
    result = vault("--version")

    assert result.output.startswith("vault, version ")


@pytest.fixture
def upgraded(app):
    """Mark the test app's schema as `vault db upgrade` leaves it."""
    with app.app_context():
        stamp()
    yield
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))


def test_serve_runs_gunicorn_with_the_packaged_settings(settings, upgraded, exec_calls):
    result = vault("serve", "--log-level", "debug")

    assert result.exit_code == 0, result.output
    assert f"instance folder {settings['VAULT_INSTANCE_DIR']}" in result.output
    assert exec_calls == [
        [
            sys.executable,
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:vault.gunicorn_settings",
            "--log-level",
            "debug",
            "vault:create_app()",
        ]
    ]


def test_serve_refuses_a_database_not_upgraded(settings, exec_calls):
    result = vault("serve")

    assert result.exit_code == 1
    assert "The database is at revision none; this vault needs " in result.output
    assert "Run `vault db upgrade` first." in result.output
    assert exec_calls == []


@pytest.mark.parametrize("args", [["serve"], ["users", "list"]])
def test_a_refused_setting_ends_the_command_with_its_message(
    settings, exec_calls, monkeypatch, args
):
    monkeypatch.setenv("VAULT_INSTANCE_DIR", "instance")

    result = vault(*args)

    assert result.exit_code == 1
    assert result.output == "Error: VAULT_INSTANCE_DIR must be an absolute path\n"
    assert exec_calls == []


def run_vault(settings, tmp_path, *args: str, **extra: str):
    """Run `python -m vault` in a process of its own, from tmp_path."""
    environment = {**os.environ, **settings, **extra, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(  # noqa: S603 (our own command, fixed arguments)
        [sys.executable, "-m", "vault", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_takes_workers_and_threads_from_the_environment(
    settings, upgraded, tmp_path
):
    result = run_vault(
        settings,
        tmp_path,
        "serve",
        "--print-config",
        VAULT_WORKERS="3",
        VAULT_THREADS="5",
        VAULT_BIND="127.0.0.1:8123",
    )

    assert result.returncode == 0, result.stderr
    printed = dict(re.findall(r"^(\w+)\s+= (.*)$", result.stdout, flags=re.MULTILINE))
    assert printed["workers"] == "3"
    assert printed["threads"] == "5"
    assert printed["bind"] == "['127.0.0.1:8123']"
    assert printed["worker_class"] == "vault.worker.ThreadWorker"


@pytest.mark.parametrize(
    ("name", "value"),
    [("VAULT_WORKERS", "0"), ("VAULT_THREADS", "two"), ("VAULT_WORKERS", "-1")],
)
def test_serve_refuses_a_count_that_is_not_one_or_more(
    settings, upgraded, tmp_path, name, value
):
    result = run_vault(settings, tmp_path, "serve", "--check-config", **{name: value})

    assert result.returncode == 1
    assert f"{name} must be a whole number above 0, not '{value}'" in result.stderr
