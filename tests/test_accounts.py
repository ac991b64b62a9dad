"""Accounts in the browser: first run, sign-up, sign-in, sessions and tokens."""

import os
import re
import stat
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import func, select
from werkzeug.http import parse_date

import vault
from tests import factories
from tests.conftest import (
    PASSWORD,
    AuthActions,
    csrf_token_from,
    stored_user,
    user_count,
)
from vault import create_app
from vault.extensions import db
from vault.models import ApiToken, User, UserSession
from vault.services import sessions

NEW_PASSWORD = "a brand new passphrase"
START = datetime(2030, 1, 1, 12, 0)


# --- helpers -----------------------------------------------------------------


def submit(client, path, form_page=None, **data):
    """POST a form the way a browser does: with the CSRF token of its page."""
    page = client.get(form_page or path).get_data(as_text=True)
    return client.post(path, data={**data, "csrf_token": csrf_token_from(page)})


def text(response) -> str:
    return response.get_data(as_text=True)


def error_message(response) -> str:
    """The form-level error shown above a form, as the user reads it."""
    match = re.search(
        r'<div class="alert" role="alert">(.*?)</div>', text(response), re.S
    )
    assert match, "no error message on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def client_at(app, address):
    """A browser on another machine."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def copy_of(app, client, *cookies):
    """A second browser holding copies of the first one's cookies."""
    other = app.test_client()
    for name in cookies:
        other.set_cookie(name, client.get_cookie(name).value)
    return other


def is_signed_in(client) -> bool:
    response = client.get("/account")
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    return False


def update_user(app, user, **values):
    with app.app_context():
        row = db.session.get(User, user.id)
        for key, value in values.items():
            setattr(row, key, value)
        db.session.commit()


def setup_form(email="admin@example.com", password=PASSWORD, confirm=None):
    confirm = password if confirm is None else confirm
    return {"email": email, "password": password, "confirm": confirm}


# --- first run ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/login", "/account", "/register"])
def test_without_users_every_page_leads_to_setup(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"] == "/setup"


def test_without_users_the_api_answers_instead_of_redirecting(client):
    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_setup_creates_an_admin_and_signs_in(app, client):
    assert "Create the first account" in text(client.get("/setup"))

    response = submit(client, "/setup", **setup_form(email="Admin@Example.com"))

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    admin = stored_user(app, "admin@example.com")
    assert admin.is_admin
    assert "admin@example.com" in text(client.get("/"))


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (setup_form(confirm="something else"), "The passwords differ."),
        (setup_form(password="short"), "between 8 and 1024 characters"),
        (setup_form(email="not-an-email"), "Enter a valid email address."),
    ],
    ids=["mismatch", "short-password", "bad-email"],
)
def test_setup_rejects_bad_input_without_creating_anyone(app, client, form, message):
    response = submit(client, "/setup", **form)

    assert response.status_code == 400
    assert message in text(response)
    assert user_count(app) == 0


def test_setup_redirects_to_login_once_someone_exists(client, alice):
    response = client.get("/setup")

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_setup_form_opened_before_the_first_admin_cannot_make_a_second(
    app, client, make_user
):
    page = text(client.get("/setup"))
    make_user("alice@example.com", is_admin=True)

    response = client.post(
        "/setup",
        data={**setup_form("mallory@example.com"), "csrf_token": csrf_token_from(page)},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert stored_user(app, "mallory@example.com") is None
    assert user_count(app) == 1


# --- registration ------------------------------------------------------------


def test_registration_is_closed_by_default(app, client, alice):
    assert client.get("/register").status_code == 404
    form = {**setup_form(), "csrf_token": AuthActions(client).csrf_token()}
    assert client.post("/register", data=form).status_code == 404
    assert stored_user(app, "admin@example.com") is None
    assert "Create an account" not in text(client.get("/login"))


class TestOpenRegistration:
    @pytest.fixture
    def app_config(self, app_config):
        app_config["REGISTRATION"] = "open"
        return app_config

    def test_sign_up_creates_a_plain_user_and_signs_in(self, app, client, alice):
        assert "Create an account" in text(client.get("/login"))

        response = submit(client, "/register", **setup_form(email="Carol@Example.com"))

        assert response.status_code == 302
        carol = stored_user(app, "carol@example.com")
        assert carol is not None and not carol.is_admin
        assert "carol@example.com" in text(client.get("/"))

    def test_taken_email_is_a_conflict(self, app, client, alice):
        response = submit(client, "/register", **setup_form(email="ALICE@example.com"))

        assert response.status_code == 409
        assert error_message(response) == "An account with that email already exists."
        assert user_count(app) == 1

    def test_sign_up_with_differing_passwords_is_refused(self, app, client, alice):
        form = setup_form(email="carol@example.com", confirm="something else")

        response = submit(client, "/register", **form)

        assert response.status_code == 400
        assert "The passwords differ." in text(response)
        assert stored_user(app, "carol@example.com") is None


# --- signing in --------------------------------------------------------------


def test_login_redirects_to_my_files(auth, alice):
    response = auth.login()

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_email_is_case_insensitive(client, auth, alice):
    assert auth.login("  ALICE@Example.COM ").status_code == 302
    assert is_signed_in(client)


def test_unknown_email_and_wrong_password_look_the_same(auth, alice):
    unknown = auth.login("nobody@example.com")
    wrong = auth.login("alice@example.com", "not the password")

    assert unknown.status_code == wrong.status_code == 401
    assert error_message(unknown) == error_message(wrong) == "Wrong email or password."


def test_disabled_user_cannot_sign_in(app, client, auth, alice):
    update_user(app, alice, disabled=True)

    response = auth.login()

    assert response.status_code == 401
    assert error_message(response) == "Wrong email or password."
    assert not is_signed_in(client)


# --- throttling --------------------------------------------------------------


def test_an_absurdly_long_email_is_just_a_failed_login(client, alice):
    # The API takes any string; the throttle still has to count it.
    credentials = {"email": "x" * 400 + "@example.com", "password": "x", "name": "t"}

    response = client.post("/api/v1/tokens", json=credentials)

    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_credentials"


# --- password hashes ---------------------------------------------------------


def test_login_rehashes_a_password_hashed_with_old_parameters(app, auth, alice):
    old_hasher = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    update_user(app, alice, password_hash=old_hasher.hash(PASSWORD))

    assert auth.login().status_code == 302

    new_hash = stored_user(app, "alice@example.com").password_hash
    current = PasswordHasher.from_parameters(
        getattr(profiles, app.config["PASSWORD_HASH_PROFILE"])
    )
    assert not current.check_needs_rehash(new_hash)
    assert current.verify(new_hash, PASSWORD)


def test_password_is_never_stored_in_clear(app, alice):
    stored = stored_user(app, "alice@example.com").password_hash

    assert PASSWORD not in stored
    assert stored.startswith("$argon2id$")


# --- server-side sessions ----------------------------------------------------


def test_logout_signs_out_every_copy_of_the_cookie(app, client, auth, alice):
    auth.login()
    copy = copy_of(app, client, "session")
    assert is_signed_in(copy)

    response = auth.logout()

    assert response.headers["Location"] == "/login"
    assert not is_signed_in(client)
    assert not is_signed_in(copy)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_remember_me_keeps_a_fresh_browser_signed_in_until_logout(
    app, client, auth, alice
):
    response = auth.login(remember=True)
    assert "remember_token=" in " ".join(response.headers.getlist("Set-Cookie"))
    assert is_signed_in(copy_of(app, client, "remember_token"))
    remembered = client.get_cookie("remember_token").value

    auth.logout()

    fresh = app.test_client()
    fresh.set_cookie("remember_token", remembered)
    assert not is_signed_in(fresh)


def test_changing_the_password_signs_out_other_browsers_only(app, client, alice, auth):
    auth.login()
    copy = copy_of(app, client, "session")

    response = submit(
        client,
        "/account/password",
        "/account",
        current_password=PASSWORD,
        new_password=NEW_PASSWORD,
        confirm=NEW_PASSWORD,
    )

    assert response.status_code == 302
    assert is_signed_in(client)
    assert not is_signed_in(copy)


def test_disabling_a_user_signs_out_their_browsers_and_tokens(
    app, client, auth, alice, api_headers
):
    headers = api_headers(alice)
    auth.login(remember=True)
    remembered = copy_of(app, client, "remember_token")

    update_user(app, alice, disabled=True)

    assert not is_signed_in(client)
    assert not is_signed_in(remembered)
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_sessions_expire_after_their_lifetime(app, alice):
    lifetime = timedelta(days=app.config["SESSION_LIFETIME_DAYS"])
    with app.app_context():
        token = sessions.start_session(db.session.get(User, alice.id), now=START)

        assert sessions.load_session(token, now=START + lifetime - timedelta(seconds=1))
        assert sessions.load_session(token, now=START + lifetime) is None


def test_expired_sessions_are_swept_at_the_next_sign_in(app, alice):
    lifetime = timedelta(days=app.config["SESSION_LIFETIME_DAYS"])
    with app.app_context():
        user = db.session.get(User, alice.id)
        sessions.start_session(user, now=START)
        sessions.start_session(user, now=START + lifetime)
        assert db.session.scalar(select(func.count()).select_from(UserSession)) == 1


def test_remember_cookie_lasts_as_long_as_the_session(app, auth, alice):
    response = auth.login(remember=True)
    [cookie] = [
        header
        for header in response.headers.getlist("Set-Cookie")
        if header.startswith("remember_token=")
    ]
    expires = parse_date(cookie.split("Expires=")[1].split(";")[0])
    lifetime = timedelta(days=app.config["SESSION_LIFETIME_DAYS"])
    assert abs(expires - datetime.now(UTC) - lifetime) < timedelta(hours=1)


# --- changing the password ---------------------------------------------------


def change_password(client, current, new, confirm=None):
    return submit(
        client,
        "/account/password",
        "/account",
        current_password=current,
        new_password=new,
        confirm=new if confirm is None else confirm,
    )


def test_wrong_current_password_changes_nothing(app, client, auth, alice):
    auth.login()
    before = stored_user(app, "alice@example.com").password_hash

    response = change_password(client, "not my password", NEW_PASSWORD)

    assert response.status_code == 401
    assert "Your current password is not correct." in error_message(response)
    assert stored_user(app, "alice@example.com").password_hash == before


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        (NEW_PASSWORD, "something else", "The passwords differ."),
        ("short", "short", "between 8 and 1024 characters"),
    ],
    ids=["mismatch", "short"],
)
def test_bad_new_password_is_refused(app, client, auth, alice, new, confirm, message):
    auth.login()
    before = stored_user(app, "alice@example.com").password_hash

    response = change_password(client, PASSWORD, new, confirm)

    assert response.status_code == 400
    assert message in text(response)
    assert stored_user(app, "alice@example.com").password_hash == before


def test_after_a_change_only_the_new_password_works(app, client, auth, alice):
    auth.login()
    response = change_password(client, PASSWORD, NEW_PASSWORD)
    assert response.headers["Location"] == "/account"
    assert "Your password was changed." in text(client.get("/account"))

    other = AuthActions(app.test_client())
    assert other.login(password=PASSWORD).status_code == 401
    assert other.login(password=NEW_PASSWORD).status_code == 302


# --- API tokens on the account page ------------------------------------------


def token_secret_on(response) -> str | None:
    match = re.search(r'id="new-token-secret"[^>]*value="([^"]+)"', text(response))
    return match.group(1) if match else None


def test_account_page_lists_my_tokens_but_not_their_secrets(
    app, client, auth, alice, bob
):
    with app.app_context():
        secret = factories.create_token(alice, "laptop backup")
        factories.create_token(bob, "bob's phone")
    auth.login()

    page = text(client.get("/account"))

    assert "laptop backup" in page
    assert "bob&#39;s phone" not in page and "bob's phone" not in page
    assert secret not in page


def test_new_token_secret_is_shown_once_and_works(app, client, auth, alice):
    auth.login()

    response = submit(client, "/account/tokens", "/account", name="backup script")

    assert response.status_code == 201
    secret = token_secret_on(response)
    assert secret
    me = app.test_client().get(
        "/api/v1/me", headers={"Authorization": f"Bearer {secret}"}
    )
    assert me.status_code == 200 and me.json["email"] == "alice@example.com"
    page = client.get("/account")
    assert "backup script" in text(page)
    assert token_secret_on(page) is None and secret not in text(page)


def test_revoking_a_token_from_the_page_stops_it(app, client, auth, alice, api_headers):
    headers = api_headers(alice)
    auth.login()
    page = text(client.get("/account"))
    [revoke_url] = re.findall(r'action="(/account/tokens/[^"/]+/revoke)"', page)

    response = client.post(revoke_url, data={"csrf_token": csrf_token_from(page)})

    assert response.status_code == 302
    assert "You have no API tokens." in text(client.get("/account"))
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 401


def test_revoking_someone_elses_token_is_not_found(
    app, client, auth, alice, bob, api_headers
):
    headers = api_headers(bob)
    with app.app_context():
        bobs_token = db.session.scalar(select(ApiToken.id))
    auth.login()

    response = submit(client, f"/account/tokens/{bobs_token}/revoke", "/account")

    assert response.status_code == 404
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200


@pytest.mark.parametrize("path", ["/account/tokens", "/account/password", "/logout"])
def test_forms_without_csrf_token_are_refused(app, client, auth, alice, path):
    auth.login()

    response = client.post(
        path,
        data={
            "name": "sneaky",
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )

    assert response.status_code == 400
    assert "security token is missing" in text(response)
    assert is_signed_in(client)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0
    assert AuthActions(app.test_client()).login().status_code == 302


# --- every response ----------------------------------------------------------


def directives(policy: str) -> dict[str, str]:
    parts = (part.strip().split(None, 1) for part in policy.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


@pytest.mark.parametrize(
    ("signed_in", "path"),
    [
        (False, "/login"),
        (False, "/account"),
        (False, "/no-such-page"),
        (False, "/api/v1/me"),
        (True, "/"),
        (True, "/account"),
        (True, "/api/v1/me"),
    ],
)
def test_every_response_carries_the_security_headers(
    client, auth, alice, signed_in, path
):
    if signed_in:
        auth.login()

    response = client.get(path)

    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] == "'none'"
    script_src = policy.get("script-src", policy.get("default-src"))
    assert script_src is not None
    assert "'unsafe-inline'" not in script_src
    assert response.headers["Referrer-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def set_cookie_header(response, name) -> str:
    [header] = [
        h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")
    ]
    return header


def test_session_and_remember_cookies_are_httponly_and_lax(auth, alice):
    response = auth.login(remember=True)

    for name in ("session", "remember_token"):
        header = set_cookie_header(response, name)
        assert "HttpOnly" in header
        assert "SameSite=Lax" in header
        assert "Secure" not in header


class TestBehindHttps:
    @pytest.fixture
    def app_config(self, app_config):
        app_config["SESSION_COOKIE_SECURE"] = True
        return app_config

    def test_cookies_are_secure(self, app, alice):
        auth = AuthActions(app.test_client())

        response = auth.login(remember=True)

        for name in ("session", "remember_token"):
            assert "Secure" in set_cookie_header(response, name)
        assert "max-age=" in response.headers["Strict-Transport-Security"]


# --- secret key --------------------------------------------------------------


def test_instance_secret_key_is_made_once_and_private(tmp_path):
    first = vault._instance_secret_key(str(tmp_path))
    second = vault._instance_secret_key(str(tmp_path))

    assert first == second
    assert len(first) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    assert vault._instance_secret_key(str(tmp_path / "other")) != first
    assert stat.S_IMODE(os.stat(tmp_path / "other").st_mode) == 0o700


def test_create_app_without_a_secret_key_uses_the_instance_key(
    monkeypatch, tmp_path, app_config
):
    monkeypatch.setenv("VAULT_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.delenv("VAULT_SECRET_KEY", raising=False)
    config = {key: value for key, value in app_config.items() if key != "SECRET_KEY"}

    apps = [create_app(config), create_app(config)]

    key_file = tmp_path / "instance" / "secret_key"
    assert apps[0].secret_key == apps[1].secret_key == key_file.read_text().strip()
    for app in apps:
        with app.app_context():
            db.engine.dispose()
