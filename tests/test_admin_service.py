"""The rules every admin front end shares: services/admin.py and admin_overview.py."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import OperationalError

from tests.conftest import PASSWORD, stored_user
from tests.helpers import blobs
from vault import security
from vault.errors import AuthenticationFailed, BadRequest, Conflict, NotFound
from vault.extensions import db
from vault.models import (
    ApiToken,
    AuditEvent,
    Node,
    PasswordReset,
    ShareLink,
    User,
    UserSession,
)
from vault.services import accounts, admin, admin_overview, sessions, shares

NOW = datetime(2030, 1, 1, 12, 0)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "DEFAULT_QUOTA": "2 GB"}


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def load(user) -> User:
    return db.session.get(User, user.id, populate_existing=True)


def events(action_prefix: str = "") -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.startswith(action_prefix))
            .order_by(AuditEvent.id)
        )
    )


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def set_columns(user, **values) -> None:
    db.session.execute(update(User).where(User.id == user.id).values(**values))
    db.session.commit()


# --- listing -----------------------------------------------------------------


def test_list_users_counts_live_files_only(
    app, ctx, alice, bob, upload, trash_item, make_folder
):
    upload(bob, "a.txt")
    upload(bob, "b.txt")
    trash_item(bob, upload(bob, "c.txt"))
    make_folder(bob, "Folders are not files")

    page = admin_overview.list_users()

    counts = {row.user.email: row.file_count for row in page.rows}
    assert counts == {"bob@example.com": 2, "alice@example.com": 0}
    assert (page.page, page.pages, page.total) == (1, 1, 2)


def test_list_users_sorts_by_charged_bytes_by_default(
    app, ctx, alice, bob, make_user, upload
):
    carol = make_user("carol@example.com")
    upload(bob, "small.txt", b"x" * 10)
    set_columns(carol, reserved_bytes=50)  # an upload still arriving counts

    emails = [row.user.email for row in admin_overview.list_users().rows]

    assert emails == ["carol@example.com", "bob@example.com", "alice@example.com"]


@pytest.mark.parametrize(
    ("sort", "descending", "expected"),
    [
        ("email", False, ["alice", "bob", "carol"]),
        ("email", True, ["carol", "bob", "alice"]),
        # Unlimited (alice) is more than any quota.
        ("quota", True, ["alice", "carol", "bob"]),
        ("quota", False, ["bob", "carol", "alice"]),
        ("files", True, ["bob", "alice", "carol"]),
        # Never signed in (carol) comes before any sign-in.
        ("last_login", False, ["carol", "alice", "bob"]),
        ("last_login", True, ["bob", "alice", "carol"]),
        ("created", False, ["alice", "bob", "carol"]),
        ("created", True, ["carol", "bob", "alice"]),
    ],
)
def test_list_users_sorts_by_every_column(
    app, ctx, alice, bob, make_user, upload, sort, descending, expected
):
    carol = make_user("carol@example.com")
    set_columns(alice, created_at=NOW, last_login_at=NOW, quota_bytes=None)
    set_columns(bob, created_at=NOW + timedelta(1), last_login_at=NOW + timedelta(2))
    set_columns(bob, quota_bytes=10**6)
    set_columns(carol, created_at=NOW + timedelta(2), quota_bytes=10**9)
    upload(bob, "a.txt")
    upload(bob, "b.txt")
    upload(alice, "a.txt")

    page = admin_overview.list_users(sort=sort, descending=descending)

    assert [row.user.email.split("@")[0] for row in page.rows] == expected


def test_list_users_refuses_an_unknown_sort(app, ctx, alice):
    with pytest.raises(BadRequest):
        admin_overview.list_users(sort="password_hash")


def test_list_users_searches_part_of_the_email_ignoring_case(
    app, ctx, alice, bob, make_user
):
    make_user("bobby_tables@example.org")

    found = admin_overview.list_users(query="  BOB ", sort="email", descending=False)

    assert [row.user.email for row in found.rows] == [
        "bob@example.com",
        "bobby_tables@example.org",
    ]
    assert found.total == 2
    # Wildcards are plain characters, not patterns.
    assert admin_overview.list_users(query="%").rows == []
    assert [r.user.email for r in admin_overview.list_users(query="y_t").rows] == [
        "bobby_tables@example.org"
    ]


def test_list_users_pages_and_clamps_the_page(app, ctx, make_user):
    for number in range(5):
        make_user(f"user{number}@example.com")

    second = admin_overview.list_users(
        sort="email", descending=False, page=2, per_page=2
    )
    beyond = admin_overview.list_users(
        sort="email", descending=False, page=99, per_page=2
    )
    before = admin_overview.list_users(
        sort="email", descending=False, page=0, per_page=2
    )

    assert [row.user.email for row in second.rows] == [
        "user2@example.com",
        "user3@example.com",
    ]
    assert (second.page, second.pages, second.total) == (2, 3, 5)
    assert beyond.page == 3
    assert [row.user.email for row in beyond.rows] == ["user4@example.com"]
    assert before.page == 1


def test_list_users_without_users_is_an_empty_first_page(app, ctx):
    page = admin_overview.list_users(page=4)

    assert (page.rows, page.page, page.pages, page.total) == ([], 1, 1, 0)


def test_list_users_takes_the_same_queries_for_any_number_of_users(
    app, ctx, make_user, upload
):
    def queries_for_listing() -> int:
        statements = []
        engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            page = admin_overview.list_users()
            [row.user.email for row in page.rows]
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    upload(make_user("one@example.com"), "a.txt")
    few = queries_for_listing()
    for number in range(6):
        upload(make_user(f"user{number}@example.com"), "a.txt")
    db.session.expire_all()

    assert queries_for_listing() == few == 2


@pytest.mark.bytes
def test_totals_add_up_users_files_bytes_and_trash(
    app, ctx, alice, bob, upload, trash_item
):
    upload(alice, "a.txt", b"a" * 100)
    upload(bob, "b.txt", b"b" * 20)
    trash_item(bob, upload(bob, "c.txt", b"c" * 5))

    totals = admin_overview.totals()

    assert (totals.users, totals.files) == (2, 2)
    assert totals.stored_bytes == 125
    assert totals.trash_bytes == 5


@pytest.mark.local_storage  # a bucket cannot say how much room is left
def test_totals_say_how_much_room_the_disk_has(app, ctx, alice, upload):
    upload(alice, "a.txt", b"a" * 100)

    totals = admin_overview.totals()

    assert 0 < totals.disk_free_bytes <= totals.disk_total_bytes


@pytest.mark.local_storage  # a folder made on first use
def test_totals_before_the_storage_folder_exists(app, ctx):
    assert not Path(app.config["STORAGE_DIR"]).exists()

    totals = admin_overview.totals()

    assert totals.users == totals.files == totals.stored_bytes == 0
    assert totals.disk_total_bytes > 0


def test_get_user_finds_by_id_and_refuses_anything_else(app, ctx, bob):
    assert admin_overview.get_user(bob.id).email == "bob@example.com"
    for bad in ["0" * 32, "nope", "", bob.id.upper(), bob.id + "0"]:
        with pytest.raises(NotFound):
            admin_overview.get_user(bad)


def test_get_user_by_email_ignores_case(app, ctx, bob):
    assert admin_overview.get_user_by_email(" BOB@example.com ").id == bob.id
    with pytest.raises(NotFound):
        admin_overview.get_user_by_email("nobody@example.com")


# --- creating ----------------------------------------------------------------


def test_create_user_gets_the_default_quota_and_is_audited(app, ctx, alice):
    user = admin.create_user(load(alice), "Carol@Example.com", PASSWORD)

    assert (user.email, user.quota_bytes, user.is_admin) == (
        "carol@example.com",
        2 * 10**9,
        False,
    )
    [created] = events("user.created")
    assert (created.actor, created.actor_id) == ("alice@example.com", alice.id)
    assert (created.target, created.target_id) == ("carol@example.com", user.id)
    assert created.after == {
        "email": "carol@example.com",
        "is_admin": False,
        "quota_bytes": 2 * 10**9,
    }


def test_create_user_takes_a_quota_or_unlimited(app, ctx):
    big = admin.create_user(None, "a@example.com", PASSWORD, quota_bytes=5)
    free = admin.create_user(
        None, "b@example.com", PASSWORD, quota_bytes=None, is_admin=True
    )

    assert big.quota_bytes == 5
    assert free.quota_bytes is None and free.is_admin
    assert {event.actor for event in events()} == {"command line"}


@pytest.mark.parametrize(
    ("email", "password", "quota"),
    [
        ("not-an-email", PASSWORD, None),
        ("c@example.com", "short", None),
        ("c@example.com", PASSWORD, -1),
        ("c@example.com", PASSWORD, "10 GB"),
        ("c@example.com", PASSWORD, True),
    ],
)
def test_create_user_refuses_bad_input(app, ctx, email, password, quota):
    with pytest.raises(BadRequest):
        admin.create_user(None, email, password, quota_bytes=quota)

    assert count(User) == 0
    assert events() == []


def test_create_user_refuses_a_taken_email(app, ctx, bob):
    with pytest.raises(Conflict):
        admin.create_user(None, "BOB@example.com", PASSWORD)

    assert events() == []


# --- quota -------------------------------------------------------------------


def test_set_quota_changes_it_and_records_before_and_after(app, ctx, alice, bob):
    admin.set_quota(load(alice), load(bob), 10**9)
    admin.set_quota(load(alice), load(bob), None)

    assert load(bob).quota_bytes is None
    first, second = events("user.quota_changed")
    assert (first.before, first.after) == (
        {"quota_bytes": 2 * 10**9},
        {"quota_bytes": 10**9},
    )
    assert (second.before, second.after) == (
        {"quota_bytes": 10**9},
        {"quota_bytes": None},
    )


def test_set_quota_to_the_same_value_records_nothing(app, ctx, bob):
    admin.set_quota(None, load(bob), 2 * 10**9)

    assert events() == []


@pytest.mark.parametrize("quota", [-1, True, "5", 1.5])
def test_set_quota_refuses_a_bad_value(app, ctx, bob, quota):
    with pytest.raises(BadRequest):
        admin.set_quota(None, load(bob), quota)

    assert load(bob).quota_bytes == 2 * 10**9


@pytest.mark.bytes
def test_a_quota_below_the_usage_is_allowed(app, ctx, bob, upload):
    upload(bob, "a.txt", b"x" * 100)

    user = admin.set_quota(None, load(bob), 10)

    assert (user.quota_bytes, user.free_bytes) == (10, 0)


# --- disable and enable ------------------------------------------------------


def test_disable_signs_out_every_session_and_enable_keeps_them_out(
    app, ctx, alice, bob
):
    sessions.start_session(load(bob))
    token = sessions.start_session(load(bob))
    sessions.start_session(load(alice))

    admin.set_disabled(load(alice), load(bob), True)

    assert load(bob).disabled
    assert (
        db.session.scalar(select(func.count()).where(UserSession.user_id == bob.id))
        == 0
    )
    assert count(UserSession) == 1  # alice's
    admin.set_disabled(load(alice), load(bob), False)
    assert not load(bob).disabled
    assert sessions.load_session(token) is None
    disabled, enabled = events()
    assert (disabled.action, disabled.before, disabled.after) == (
        "user.disabled",
        {"disabled": False},
        {"disabled": True},
    )
    assert (enabled.action, enabled.after) == ("user.enabled", {"disabled": False})


def test_a_disabled_user_cannot_sign_in_until_enabled(app, ctx, bob):
    admin.set_disabled(None, load(bob), True)
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate("bob@example.com", PASSWORD, None)

    admin.set_disabled(None, load(bob), False)

    assert accounts.authenticate("bob@example.com", PASSWORD, None).id == bob.id


def test_disabling_twice_records_one_event(app, ctx, bob):
    admin.set_disabled(None, load(bob), True)
    admin.set_disabled(None, load(bob), True)

    assert [event.action for event in events()] == ["user.disabled"]


def test_an_admin_cannot_disable_themselves(app, ctx, alice, make_user):
    make_user("root@example.com", is_admin=True)

    with pytest.raises(Conflict, match="your own account"):
        admin.set_disabled(load(alice), load(alice), True)

    assert not load(alice).disabled
    assert events() == []


def test_the_last_admin_cannot_be_disabled(app, ctx, alice, bob):
    with pytest.raises(Conflict, match="last administrator"):
        admin.set_disabled(None, load(alice), True)

    assert not load(alice).disabled


@pytest.mark.parametrize("flag", ["yes", 1, None])
def test_disabled_must_be_a_boolean(app, ctx, bob, flag):
    with pytest.raises(BadRequest):
        admin.set_disabled(None, load(bob), flag)


# --- admin role --------------------------------------------------------------


def test_promote_and_demote_are_audited(app, ctx, alice, bob):
    admin.set_admin(load(alice), load(bob), True)
    assert load(bob).is_admin
    admin.set_admin(load(alice), load(bob), False)

    assert not load(bob).is_admin
    promoted, demoted = events()
    assert (promoted.action, promoted.before, promoted.after) == (
        "user.promoted",
        {"is_admin": False},
        {"is_admin": True},
    )
    assert (demoted.action, demoted.after) == ("user.demoted", {"is_admin": False})


def test_the_last_admin_cannot_be_demoted(app, ctx, alice):
    with pytest.raises(Conflict, match="last administrator"):
        admin.set_admin(load(alice), load(alice), False)

    assert load(alice).is_admin
    assert events() == []


def test_two_admins_can_demote_each_other_one_at_a_time_but_not_both(
    app, ctx, alice, make_user
):
    root = make_user("root@example.com", is_admin=True)

    admin.set_admin(load(alice), load(root), False)
    with pytest.raises(Conflict):
        admin.set_admin(load(root), load(alice), False)

    assert load(alice).is_admin and not load(root).is_admin


def test_a_disabled_admin_does_not_count_as_the_other_admin(app, ctx, alice, make_user):
    root = make_user("root@example.com", is_admin=True)
    admin.set_disabled(load(alice), load(root), True)

    with pytest.raises(Conflict):
        admin.set_admin(None, load(alice), False)
    # Removing the role of the disabled one is fine: it was not active.
    admin.set_admin(None, load(root), False)

    assert not load(root).is_admin


def test_the_admin_rows_stay_locked_until_the_change_commits(
    app, ctx, alice, make_user, monkeypatch
):
    root = make_user("root@example.com", is_admin=True)
    attempts = []
    locked_count = admin._active_admin_ids

    def count_then_try_elsewhere():
        active = locked_count()
        # A second connection, like another worker, cannot change an admin now.
        with db.engine.connect() as other:
            if other.dialect.name == "sqlite":
                other.execute(text("PRAGMA busy_timeout = 0"))
            else:
                other.execute(text("SET lock_timeout = '10ms'"))
            with pytest.raises(OperationalError):
                other.execute(
                    update(User).where(User.id == alice.id).values(is_admin=False)
                )
            other.rollback()
        attempts.append(active)
        return active

    monkeypatch.setattr(admin, "_active_admin_ids", count_then_try_elsewhere)

    admin.set_admin(None, load(root), False)

    assert attempts == [{alice.id, root.id}]
    assert load(alice).is_admin


def test_update_user_is_all_or_none(app, ctx, alice):
    with pytest.raises(Conflict):
        admin.update_user(None, load(alice), quota_bytes=5, is_admin=False)

    assert load(alice).quota_bytes == 2 * 10**9
    assert load(alice).is_admin
    assert events() == []


def test_update_user_changes_several_things_at_once(app, ctx, alice, bob):
    user = admin.update_user(
        load(alice), load(bob), quota_bytes=7, disabled=True, is_admin=True
    )

    assert (user.quota_bytes, user.disabled, user.is_admin) == (7, True, True)
    assert [event.action for event in events()] == [
        "user.quota_changed",
        "user.disabled",
        "user.promoted",
    ]


# --- password reset links ----------------------------------------------------


def test_issue_password_reset_stores_only_a_hash_valid_for_an_hour(
    app, ctx, alice, bob
):
    token = admin.issue_password_reset(load(alice), load(bob), now=NOW)

    [reset] = db.session.scalars(select(PasswordReset))
    assert reset.token_hash == security.hash_token(token)
    assert token not in reset.token_hash
    assert (reset.user_id, reset.created_at) == (bob.id, NOW)
    assert reset.expires_at == NOW + timedelta(hours=1)
    [issued] = events()
    assert (issued.action, issued.actor, issued.target) == (
        "password.reset_issued",
        "alice@example.com",
        "bob@example.com",
    )
    assert issued.after == {"expires_at": "2030-01-01T13:00:00"}


def test_a_new_reset_link_replaces_the_unused_one(app, ctx, bob):
    first = admin.issue_password_reset(None, load(bob), now=NOW)
    second = admin.issue_password_reset(None, load(bob), now=NOW)

    with pytest.raises(NotFound):
        accounts.password_reset_for(first, now=NOW)
    assert accounts.password_reset_for(second, now=NOW).user_id == bob.id


# --- deleting ----------------------------------------------------------------


@pytest.mark.bytes
def test_delete_user_removes_rows_and_bytes(app, ctx, alice, bob, upload, api_headers):
    file = upload(bob, "a.txt", b"x" * 30)
    upload(alice, "mine.txt")
    api_headers(bob)
    sessions.start_session(load(bob))
    shares.create_share(load(bob), file.id, expires_at=NOW + timedelta(days=1), now=NOW)
    admin.issue_password_reset(None, load(bob))

    admin.delete_user(load(alice), load(bob), "  Bob@Example.com ")

    assert stored_user(app, "bob@example.com") is None
    for model in (ApiToken, ShareLink, PasswordReset):
        assert count(model) == 0
    assert count(UserSession) == 0
    assert [node.name for node in db.session.scalars(select(Node))] == ["mine.txt"]
    assert not any(key.startswith(bob.id) for key in blobs(app))
    assert any(key.startswith(alice.id) for key in blobs(app))
    [deleted] = events("user.deleted")
    assert deleted.before == {
        "email": "bob@example.com",
        "used_bytes": 30,
        "file_count": 1,
    }
    assert (deleted.actor, deleted.target_id) == ("alice@example.com", bob.id)


@pytest.mark.parametrize("confirmation", ["", "bob", "alice@example.com", None])
def test_delete_user_needs_the_email_typed(app, ctx, bob, confirmation):
    with pytest.raises(BadRequest, match="bob@example.com"):
        admin.delete_user(None, load(bob), confirmation)

    assert stored_user(app, "bob@example.com") is not None


def test_an_admin_cannot_delete_themselves(app, ctx, alice, make_user):
    make_user("root@example.com", is_admin=True)

    with pytest.raises(Conflict):
        admin.delete_user(load(alice), load(alice), "alice@example.com")

    assert stored_user(app, "alice@example.com") is not None


def test_the_last_admin_cannot_be_deleted(app, ctx, alice):
    with pytest.raises(Conflict):
        admin.delete_user(None, load(alice), "alice@example.com")

    assert stored_user(app, "alice@example.com") is not None
    assert events() == []


def test_a_second_admin_can_be_deleted(app, ctx, alice, make_user):
    root = make_user("root@example.com", is_admin=True)

    admin.delete_user(load(alice), load(root), "root@example.com")

    assert stored_user(app, "root@example.com") is None
