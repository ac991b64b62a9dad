"""The app cleans up by itself: expired uploads, stale reservations, the
trash and share links that ended long ago."""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import fresh_app
from tests.helpers import blobs, nodes, wait_for
from tests.tus import NOTHING, Tus, expire, state
from vault import create_app, maintenance, metrics
from vault.extensions import db
from vault.models import ShareAccess, ShareLink, User, utcnow
from vault.services import exclusive, shares
from vault.services.share_access import Visitor, log_access

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


def expired_upload(app, client, headers) -> str:
    """Start an upload of 10 bytes, send 5, and let it expire; return its URL."""
    tus = Tus(client, headers)
    url = tus.start(10)
    assert tus.patch(url, b"hello", 0).status_code == 204
    expire(app, url)
    return url


def test_a_sweep_skips_its_turn_while_another_process_sweeps(
    app, client, alice, api_headers, sweeper
):
    sweeper.stop()  # this test sweeps by hand
    expired_upload(app, client, api_headers(alice))
    held_before = state(app, alice)

    with app.app_context():
        with exclusive.only_one("sweep") as held:
            busy = maintenance.sweep_unless_busy()
            during = state(app, alice)
        after = maintenance.sweep_unless_busy()

    assert held is True
    assert busy is None
    assert during == held_before != NOTHING
    assert after == maintenance.Swept(1, 5, 0, 0, 0)
    assert state(app, alice) == NOTHING


def test_the_lock_is_held_by_one_at_a_time(app):
    with app.app_context():
        with exclusive.only_one("sweep") as first:
            with exclusive.only_one("sweep") as second:
                with exclusive.only_one("other work") as other_work:
                    pass
        with exclusive.only_one("sweep") as again:
            pass

    assert (first, second, other_work, again) == (True, False, True, True)


def test_the_sweeper_thread_waits_for_the_lock(
    app, client, alice, api_headers, sweeper
):
    expired_upload(app, client, api_headers(alice))

    with app.app_context(), exclusive.only_one("sweep") as held:
        client.get("/login")  # starts the thread: it sweeps every 0.2 s
        time.sleep(1)
        while_held = state(app, alice)

    assert held is True
    assert while_held["uploads"] == 1
    assert wait_for(lambda: state(app, alice) == NOTHING)


def test_the_command_says_so_when_another_process_sweeps(app, runner):
    with app.app_context(), exclusive.only_one("sweep"):
        result = runner.invoke(args=["cleanup"])

    assert result.exit_code == 0, result.output
    assert result.output == "Another process is sweeping right now; it does the work.\n"


# --- the trash and ended share links -------------------------------------------


def make_link(app, user, node, ends_days_ago: float, revoked: bool = False) -> str:
    """Make a link that expired (or, revoked, was revoked) this many days ago."""
    with app.app_context():
        owner = db.session.get(User, user.id)
        ended = utcnow() - timedelta(days=ends_days_ago)
        made = ended - timedelta(days=1)
        if revoked:
            link = shares.create_share(
                owner, node.id, expires_at=utcnow() + timedelta(days=1), now=made
            )
            shares.revoke_share(owner, link.id, now=ended)
        else:
            link = shares.create_share(owner, node.id, expires_at=ended, now=made)
        log_access(link, "view", Visitor("192.0.2.1"), now=made)
        return link.id


def links_and_visits(app) -> tuple[set[str], int]:
    with app.app_context():
        return (
            set(db.session.scalars(select(ShareLink.id))),
            db.session.scalar(select(func.count()).select_from(ShareAccess)),
        )


@pytest.fixture
def aged(app, alice, upload, trash_item):
    """Old and recent trash, and links ended long ago, lately, or not at all."""
    now = utcnow()
    report = upload(alice, "report.pdf", b"%PDF-1.4 report")
    trash_item(alice, upload(alice, "old.txt", b"old"), now=now - timedelta(days=31))
    recent = upload(alice, "recent.txt", b"recent")
    trash_item(alice, recent, now=now - timedelta(days=29))
    return {
        "report": report,
        "recent": recent,
        "expired long ago": make_link(app, alice, report, 31),
        "revoked long ago": make_link(app, alice, report, 31, revoked=True),
        "expired lately": make_link(app, alice, report, 29),
        "open": make_link(app, alice, report, -5),
    }


def test_a_sweep_purges_the_trash_and_deletes_links_ended_long_ago(app, aged):
    with app.app_context():
        swept = maintenance.sweep_unless_busy()

    assert swept == maintenance.Swept(0, 0, 0, 1, 2)
    assert {node.name for node in nodes(app)} == {"report.pdf", "recent.txt"}
    assert set(blobs(app)) == {aged["report"].storage_key, aged["recent"].storage_key}
    # Each link had one visit: the log of a deleted link goes with it.
    assert links_and_visits(app) == ({aged["expired lately"], aged["open"]}, 2)


def test_how_long_ended_links_stay_is_a_setting(app, aged):
    app.config["ENDED_LINK_DAYS"] = 60

    with app.app_context():
        swept = maintenance.sweep_unless_busy()

    assert swept.links == 0
    assert len(links_and_visits(app)[0]) == 4


def test_the_thread_purges_the_trash_and_old_links_on_its_own(
    app, client, aged, sweeper
):
    client.get("/login")  # its first request starts the thread

    assert wait_for(lambda: len(nodes(app)) == 2)
    assert wait_for(lambda: len(links_and_visits(app)[0]) == 2)


def test_the_cleanup_command_does_it_now_and_says_what_it_did(app, runner, aged):
    app.extensions["vault.sweeper"].stop()  # only the command sweeps here

    result = runner.invoke(args=["cleanup"])

    assert result.exit_code == 0, result.output
    assert result.output == (
        "Removed 0 expired uploads (0 bytes received).\n"
        "Released 0 expired reservations.\n"
        "Purged 1 item from the trash.\n"
        "Deleted 2 ended share links.\n"
    )


def test_sweeps_and_failed_sweeps_are_counted(app_config, monkeypatch):
    token = "metrics-token-0123456789abcdef"
    outcomes = iter([None, RuntimeError("database gone")])

    def sweep():
        outcome = next(outcomes, None)
        if outcome is not None:
            raise outcome
        return maintenance.Swept(0, 0, 0, 0, 0)

    monkeypatch.setattr(maintenance, "sweep", sweep)
    with fresh_app({**app_config, "METRICS_TOKEN": token}) as app:
        registry = metrics.of(app).registry

        def count(name):
            return registry.get_sample_value(name) or 0

        runs, errors = count("vault_sweeps_total"), count("vault_sweep_errors_total")
        try:
            app.test_client().get("/healthz")  # answered before the hooks
            assert cleanup_threads() == 0
            app.test_client().get("/login")
            assert wait_for(lambda: count("vault_sweeps_total") - runs >= 3)
        finally:
            app.extensions["vault.sweeper"].stop()

    assert count("vault_sweep_errors_total") - errors == 1
