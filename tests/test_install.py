"""vault installed as a Python application: the wheel, in a new venv, elsewhere.

Slow (about a minute: a wheel build and a pip install of every dependency,
from the network or pip's cache), so marked `wheel`; `make test` runs it.
"""

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, make_url, text

from tests.conftest import PASSWORD, TEST_DATABASE_URL, csrf_token_from
from tests.servers import PROJECT_ROOT, free_port, stop, wait_until_answering

pytestmark = pytest.mark.wheel

# What a clone has that a build must not need: caches, envs, local data.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", "instance", "build", "dist", "*.egg-info", "__pycache__", ".*cache"
)


def run(command: list, cwd: Path, env: dict | None = None, **options):
    """Run a command, failing the test with its output if it fails."""
    result = subprocess.run(  # noqa: S603 (our own commands, fixed arguments)
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        **options,
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A new venv with vault installed from a wheel built from this checkout."""
    root = tmp_path_factory.mktemp("install")
    source = root / "clone"
    shutil.copytree(PROJECT_ROOT, source, ignore=NOT_IN_A_CLONE)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", root, "."], source)
    (wheel,) = root.glob("vault-*.whl")
    run([sys.executable, "-m", "venv", root / "venv"], root)
    extra = "[postgres]" if TEST_DATABASE_URL else ""
    run([root / "venv/bin/python", "-m", "pip", "install", f"{wheel}{extra}"], root)
    return root / "venv"


@pytest.fixture
def database_url():
    """A database of the test's own: a new SQLite file, or a new PostgreSQL one."""
    if not TEST_DATABASE_URL:
        yield None  # the instance folder's vault.db
        return
    name = f"vault_wheel_{secrets.token_hex(4)}"
    server = create_engine(
        make_url(TEST_DATABASE_URL).set(drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
    )
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        server.dispose()


def files_of(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file below `folder`, with its size and modification time."""
    return {
        str(path): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if not path.is_dir()
    }


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """A clean environment: no VAULT_ setting of the test run leaks in."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"} | {
        f"VAULT_{name.upper()}": value for name, value in settings.items()
    }


@contextlib.contextmanager
def serving(vault: Path, cwd: Path, env: dict[str, str]):
    """Run `vault serve` from `cwd` while the block runs; yield its URL."""
    port = free_port()
    log = cwd / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 (our own server, fixed arguments)
            [str(vault), "serve"],
            cwd=cwd,
            env={**env, "VAULT_BIND": f"127.0.0.1:{port}", "VAULT_WORKERS": "1"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_answering(port, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def first_account(url: str, email: str) -> requests.Session:
    """Create the first account on the setup page, as a new owner does."""
    browser = requests.Session()
    setup = browser.get(f"{url}/", timeout=30)
    assert setup.url == f"{url}/setup"
    created = browser.post(
        f"{url}/setup",
        data={
            "email": email,
            "password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": csrf_token_from(setup.text),
        },
        timeout=30,
    )
    assert (created.status_code, created.url) == (200, f"{url}/")
    return browser


def test_the_wheel_installs_and_serves_from_anywhere(venv, database_url, tmp_path):
    vault = venv / "bin" / "vault"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    instance = tmp_path / "instance"
    settings = {"instance_dir": str(instance)}
    if database_url:
        settings["database_url"] = database_url
    env = environment(tmp_path, **settings)
    installed = files_of(venv)

    run([vault, "db", "upgrade"], elsewhere, env)
    with serving(vault, elsewhere, env) as url:
        browser = first_account(url, "owner@example.com")
        page = browser.get(f"{url}/", timeout=30)
        style = browser.get(f"{url}/static/css/vault.css", timeout=30)
    run(
        [vault, "users", "create", "friend@example.com", "--password-stdin"],
        elsewhere,
        env,
        input=PASSWORD,
    )
    listed = run([vault, "users", "list"], elsewhere, env).stdout

    assert (page.status_code, "My files" in page.text) == (200, True)
    assert (style.status_code, style.headers["Content-Type"]) == (
        200,
        "text/css; charset=utf-8",
    )
    assert "owner@example.com" in listed
    assert "friend@example.com" in listed
    assert (instance / "secret_key").is_file()
    assert (instance / "vault.db").is_file() is (database_url is None)
    assert files_of(venv) == installed  # nothing written into the install
    assert list(elsewhere.iterdir()) == [elsewhere / "serve.log"]


def test_without_an_instance_dir_the_data_goes_to_the_users_data_folder(venv, tmp_path):
    env = environment(tmp_path)
    installed = files_of(venv)

    run([venv / "bin" / "vault", "db", "upgrade"], tmp_path, env)
    run([venv / "bin" / "python", "-m", "vault", "users", "list"], tmp_path, env)

    data = tmp_path / "home" / ".local" / "share" / "vault"
    assert sorted(path.name for path in data.iterdir()) == ["secret_key", "vault.db"]
    assert files_of(venv) == installed
