"""The app cleans up by itself: expired uploads and stale reservations."""

import threading
import time

import pytest

from tests.tus import NOTHING, Tus, expire, state
from vault import create_app, maintenance
from vault.extensions import db

pytestmark = pytest.mark.bytes


@pytest.fixture
def app_config(app_config):
    return {**app_config, "CLEANUP_SECONDS": 0.2}


@pytest.fixture
def sweeper(app):
    yield app.extensions["vault.sweeper"]
    app.extensions["vault.sweeper"].stop()


def cleanup_threads() -> int:
    return sum(thread.name == "vault-cleanup" for thread in threading.enumerate())


def wait_for(condition, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_serving_process_sweeps_expired_uploads_on_its_own(
    app, client, alice, api_headers, sweeper
):
    tus = Tus(client, api_headers(alice))
    url = tus.start(10)
    tus.patch(url, b"hello", 0)
    expire(app, url)

    # Its first request starts the thread; nothing else is asked of anyone.
    assert wait_for(lambda: state(app, alice) == NOTHING)
    assert cleanup_threads() == 1


def test_one_thread_however_many_requests(app, client, sweeper):
    for _ in range(5):
        client.get("/login")

    assert cleanup_threads() == 1
    sweeper.stop()
    assert cleanup_threads() == 0


def test_a_failed_sweep_is_logged_and_tried_again(app, client, sweeper, monkeypatch):
    calls = []

    def failing():
        calls.append(1)
        raise RuntimeError("database gone")

    monkeypatch.setattr(maintenance, "sweep", failing)
    client.get("/login")

    assert wait_for(lambda: len(calls) >= 2)


def test_zero_turns_it_off(app, app_config):
    off = create_app({**app_config, "CLEANUP_SECONDS": 0})
    off.test_client().get("/login")

    assert "vault.sweeper" not in off.extensions
    assert cleanup_threads() == 0
    with off.app_context():
        db.engine.dispose()  # its pooled connection, closed now rather than by GC


def test_commands_start_no_thread(runner):
    result = runner.invoke(args=["cleanup"])

    assert result.exit_code == 0, result.output
    assert cleanup_threads() == 0
