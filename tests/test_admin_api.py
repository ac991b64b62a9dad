"""The admin API (/api/v1/admin/...) and what its changes do to the account."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import AuthActions, csrf_token_from, stored_user
from tests.helpers import error_of
from vault.extensions import db
from vault.models import AuditEvent, User, utcnow
from vault.services import shares

USERS = "/api/v1/admin/users"
USER_FIELDS = {
    "id",
    "email",
    "is_admin",
    "disabled",
    "used_bytes",
    "quota_bytes",
    "file_count",
    "last_login_at",
    "created_at",
}


@pytest.fixture
def app_config(app_config, request):
    return {**app_config, **getattr(request, "param", {})}


@pytest.fixture
def admin_headers(alice, api_headers):
    return api_headers(alice)


def patch(client, user, headers, body):
    return client.patch(f"{USERS}/{user.id}", json=body, headers=headers)


def user_actions(app) -> list[str]:
    """What the audit log says was done to accounts."""
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.startswith("user."))
                .order_by(AuditEvent.id)
            )
        )


# --- listing -----------------------------------------------------------------


def test_list_describes_every_user(app, client, alice, bob, upload, admin_headers):
    upload(bob, "a.txt", b"x" * 40)
    AuthActions(app.test_client()).login()
    with app.app_context():
        db.session.execute(
            update(User).where(User.id == bob.id).values(reserved_bytes=2)
        )
        db.session.commit()

    body = client.get(USERS, headers=admin_headers).get_json()

    assert (body["page"], body["pages"], body["total"]) == (1, 1, 2)
    first, second = body["users"]
    assert set(first) == USER_FIELDS
    assert first["email"] == "bob@example.com"  # most used first
    assert (first["used_bytes"], first["file_count"]) == (42, 1)
    assert (first["is_admin"], first["disabled"]) == (False, False)
    assert first["quota_bytes"] is None
    assert first["last_login_at"] is None
    assert first["created_at"].endswith("Z")
    assert second["email"] == "alice@example.com"
    assert second["last_login_at"].endswith("Z")


def test_list_searches_sorts_and_pages(client, alice, make_user, admin_headers):
    for number in range(3):
        make_user(f"user{number}@example.com")

    found = client.get(f"{USERS}?q=USER&sort=email&order=asc", headers=admin_headers)
    beyond = client.get(f"{USERS}?page=9", headers=admin_headers)

    assert [user["email"] for user in found.get_json()["users"]] == [
        "user0@example.com",
        "user1@example.com",
        "user2@example.com",
    ]
    assert beyond.get_json()["page"] == 1


@pytest.mark.parametrize(
    "query", ["sort=password", "page=abc", "page=-1", "page=0", "page=²"]
)
def test_list_refuses_bad_arguments(client, admin_headers, query):
    error_of(client.get(f"{USERS}?{query}", headers=admin_headers), 400)


# --- who may --------------------------------------------------------------------


def test_non_admins_are_told_nothing_exists(client, alice, bob, api_headers):
    headers = api_headers(bob)

    listed = client.get(USERS, headers=headers)
    changed = patch(client, alice, headers, {"is_admin": False})
    themselves = patch(client, bob, headers, {"is_admin": True})

    error_of(listed, 404, "not_found")
    error_of(changed, 404, "not_found")
    error_of(themselves, 404, "not_found")
    assert not stored_user(client.application, "bob@example.com").is_admin


def test_anonymous_callers_must_authenticate(client, alice, bob):
    error_of(client.get(USERS), 401)
    error_of(client.patch(f"{USERS}/{bob.id}", json={"disabled": True}), 401)


def test_a_disabled_admins_token_stops_working(
    client, alice, make_user, api_headers, admin_headers
):
    root = make_user("root@example.com", is_admin=True)
    headers = api_headers(root)

    patch(client, root, admin_headers, {"disabled": True})

    error_of(client.get(USERS, headers=headers), 401)


def test_a_signed_in_admin_needs_the_csrf_header(app, client, auth, alice, bob):
    auth.login()
    token = csrf_token_from(client.get("/account").get_data(as_text=True))

    refused = client.patch(f"{USERS}/{bob.id}", json={"disabled": True})
    allowed = client.patch(
        f"{USERS}/{bob.id}", json={"disabled": True}, headers={"X-CSRFToken": token}
    )

    error_of(refused, 400, "csrf_failed")
    assert allowed.status_code == 200
    assert client.get(USERS).status_code == 200


# --- changing ----------------------------------------------------------------


def test_patch_sets_quota_status_and_role(app, client, bob, admin_headers):
    response = patch(
        client,
        bob,
        admin_headers,
        {"quota_bytes": 10**9, "disabled": True, "is_admin": True},
    )

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == USER_FIELDS
    assert (body["quota_bytes"], body["disabled"], body["is_admin"]) == (
        10**9,
        True,
        True,
    )
    assert user_actions(app) == ["user.quota_changed", "user.disabled", "user.promoted"]


def test_patch_null_quota_means_unlimited(app, client, bob, admin_headers):
    patch(client, bob, admin_headers, {"quota_bytes": 5})

    body = patch(client, bob, admin_headers, {"quota_bytes": None}).get_json()

    assert body["quota_bytes"] is None
    assert stored_user(app, "bob@example.com").quota_bytes is None


@pytest.mark.parametrize(
    "body",
    [
        {"quota_bytes": True},
        {"quota_bytes": "10 GB"},
        {"quota_bytes": 1.5},
        {"quota_bytes": -1},
        {"quota_bytes": 2**63},
        {"disabled": "yes"},
        {"disabled": 1},
        {"is_admin": None},
        {"email": "evil@example.com"},
        {"quota_bytes": 5, "password_hash": "x"},
    ],
)
def test_patch_refuses_bad_bodies_and_changes_nothing(
    app, client, bob, admin_headers, body
):
    error_of(patch(client, bob, admin_headers, body), 400)

    assert stored_user(app, "bob@example.com").quota_bytes is None
    assert user_actions(app) == []


@pytest.mark.parametrize("body", [[], "quota", 5])
def test_patch_needs_a_json_object(client, bob, admin_headers, body):
    error_of(patch(client, bob, admin_headers, body), 400)


def test_patch_is_all_or_none(app, client, alice, admin_headers):
    response = patch(
        client, alice, admin_headers, {"quota_bytes": 5, "is_admin": False}
    )

    error_of(response, 409, "conflict")
    assert stored_user(app, "alice@example.com").quota_bytes is None
    assert user_actions(app) == []


@pytest.mark.parametrize("user_id", ["0" * 32, "not-an-id"])
def test_patch_of_an_unknown_user_is_404(client, admin_headers, user_id):
    response = client.patch(
        f"{USERS}/{user_id}", json={"disabled": True}, headers=admin_headers
    )

    error_of(response, 404)


def test_the_last_admin_keeps_the_role_and_cannot_disable_themselves(
    app, client, alice, admin_headers
):
    demoted = patch(client, alice, admin_headers, {"is_admin": False})
    disabled = patch(client, alice, admin_headers, {"disabled": True})

    assert "last administrator" in error_of(demoted, 409)["message"]
    error_of(disabled, 409)
    assert stored_user(app, "alice@example.com").is_admin


def test_two_admins_can_demote_each_other_one_at_a_time(
    app, client, alice, make_user, api_headers, admin_headers
):
    root = make_user("root@example.com", is_admin=True)
    root_headers = api_headers(root)

    assert patch(client, root, admin_headers, {"is_admin": False}).status_code == 200
    # Root is no admin any more: the admin API does not exist for them.
    error_of(patch(client, alice, root_headers, {"is_admin": False}), 404)
    assert stored_user(app, "alice@example.com").is_admin


# --- what disabling does -----------------------------------------------------


def test_disabling_signs_out_the_browser_and_enabling_keeps_it_out(
    app, client, bob, admin_headers
):
    AuthActions(client).login("bob@example.com")
    assert client.get("/account").status_code == 200

    patch(client, bob, admin_headers, {"disabled": True})
    signed_out = client.get("/account")
    api = client.get("/api/v1/me")
    patch(client, bob, admin_headers, {"disabled": False})

    assert signed_out.status_code == 302
    assert signed_out.headers["Location"].startswith("/login")
    error_of(api, 401)
    assert client.get("/account").status_code == 302
    assert AuthActions(client).login("bob@example.com").status_code == 302


def test_a_disabled_users_token_works_again_once_enabled(
    client, bob, api_headers, admin_headers
):
    headers = api_headers(bob)

    patch(client, bob, admin_headers, {"disabled": True})
    refused = client.get("/api/v1/me", headers=headers)
    patch(client, bob, admin_headers, {"disabled": False})

    error_of(refused, 401)
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_a_disabled_users_links_answer_410_until_enabled(
    app, client, bob, upload, admin_headers
):
    file = upload(bob, "notes.txt")
    with app.app_context():
        share = shares.create_share(
            db.session.get(User, bob.id),
            file.id,
            expires_at=utcnow() + timedelta(days=1),
        )
        url = f"/s/{shares.share_token(share)}"
    assert client.get(url).status_code == 200

    patch(client, bob, admin_headers, {"disabled": True})
    gone = client.get(url)
    patch(client, bob, admin_headers, {"disabled": False})

    assert gone.status_code == 410
    assert client.get(url).status_code == 200
    assert client.get(f"{url}/download").get_data() == b"hello vault\n"


# --- /me ---------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"DEFAULT_QUOTA": "1 kB"}], indirect=True)
def test_me_reports_usage_reservations_trash_and_free_space(
    app, client, bob, upload, trash_item, api_headers
):
    upload(bob, "a.txt", b"a" * 100)
    trash_item(bob, upload(bob, "b.txt", b"b" * 30))
    with app.app_context():
        db.session.execute(
            update(User).where(User.id == bob.id).values(reserved_bytes=20)
        )
        db.session.commit()

    body = client.get("/api/v1/me", headers=api_headers(bob)).get_json()

    assert body["used_bytes"] == 150  # stored, trashed and arriving
    assert body["quota_bytes"] == 1000
    assert body["free_bytes"] == 850
    assert body["reserved_bytes"] == 20
    assert body["trash_bytes"] == 30


def test_me_reports_no_free_space_figure_when_unlimited(client, bob, api_headers):
    body = client.get("/api/v1/me", headers=api_headers(bob)).get_json()

    assert body["quota_bytes"] is None and body["free_bytes"] is None
    assert body["reserved_bytes"] == body["trash_bytes"] == body["used_bytes"] == 0
