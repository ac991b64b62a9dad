"""JSON API v1: tokens, auth, the caller's account and files, as clients see them."""

import base64
import hashlib
import io
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests import helpers
from tests.conftest import PASSWORD, csrf_token_from
from tests.factories import JPEG, PDF, PNG, back_off_fully, guess_many_accounts
from tests.helpers import blob_bytes
from vault.extensions import db
from vault.models import ApiToken, Node, User, utcnow
from vault.services import files
from vault.storage import get_storage

pytestmark = pytest.mark.bytes

HEX32 = re.compile(r"[0-9a-f]{32}")
MISSING_ID = "0" * 32
CONTENT = b"hello vault\n"


@pytest.fixture
def app_config(app_config, request):
    """Let a test change the configuration with indirect parametrization."""
    app_config.update(getattr(request, "param", {}))
    return app_config


def error_of(response, status: int, code: str | None = None) -> dict:
    """Assert the API's error contract and return the body."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", body["error"]["code"])
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    return body


def post_files(client, headers, *parts, field="file"):
    data = {field: [(io.BytesIO(content), name) for name, content in parts]}
    return client.post("/api/v1/files", headers=headers, data=data)


def rows(app, model=Node) -> list:
    with app.app_context():
        return list(db.session.scalars(select(model)))


def blobs(app) -> list[str]:
    """The key of everything in the store, whole blob or not, in order."""
    return sorted(helpers.blobs(app))


def store_at(app, user, name: str, when: datetime) -> str:
    """Store a file with a chosen upload time through the real service."""
    with app.app_context():
        owner = db.session.get(User, user.id)
        writer = get_storage().new_writer(owner.id)
        writer.write(name.encode())
        try:
            [file] = files.store_uploads(owner, [(name, writer)], now=when)
        finally:
            writer.discard()
        return file.id


def big_multipart(size: int) -> tuple[str, bytes]:
    # Built in memory: the test client's own encoder spools big bodies to an
    # unclosed temp file, which filterwarnings=error turns into a failure.
    part = FileStorage(io.BytesIO(b"x" * size), "big.txt")
    return encode_multipart({"file": part})


# Tokens


def create_token(client, email="alice@example.com", password=PASSWORD, name="cli"):
    body = {"email": email, "password": password, "name": name}
    return client.post("/api/v1/tokens", json=body)


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def test_token_is_created_with_password_and_works_as_bearer(client, alice):
    response = create_token(client, name="laptop")

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "name", "token"}
    assert body["name"] == "laptop"
    assert HEX32.fullmatch(body["id"])
    me = client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.get_json()["email"] == "alice@example.com"


def test_token_secret_is_stored_only_as_a_hash(app, client, alice):
    secret = create_token(client).get_json()["token"]

    [row] = rows(app, ApiToken)
    assert row.token_hash != secret
    random_part = secret.removeprefix("vault_")
    for column in ApiToken.__table__.columns:
        assert random_part not in str(getattr(row, column.key))


def test_wrong_password_and_unknown_email_get_the_same_answer(client, alice):
    wrong_password = create_token(client, password="not the password")
    unknown_email = create_token(client, email="nobody@example.com")

    body = error_of(wrong_password, 401)
    assert error_of(unknown_email, 401) == body


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "alice@example.com", "password": PASSWORD},
        {"email": "alice@example.com", "name": "cli"},
        {"password": PASSWORD, "name": "cli"},
        {"email": "alice@example.com", "password": 12345678, "name": "cli"},
        {"email": ["alice@example.com"], "password": PASSWORD, "name": "cli"},
        {"email": "alice@example.com", "password": PASSWORD, "name": None},
        {"email": "alice@example.com", "password": PASSWORD, "name": ""},
        {"email": "alice@example.com", "password": PASSWORD, "name": "n" * 101},
        ["alice@example.com", PASSWORD, "cli"],
        "alice@example.com",
    ],
)
def test_malformed_token_request_is_rejected(app, client, alice, body):
    error_of(client.post("/api/v1/tokens", json=body), 400)
    assert rows(app, ApiToken) == []


@pytest.mark.parametrize(
    "options",
    [
        {"data": {"email": "alice@example.com", "password": PASSWORD, "name": "x"}},
        {"data": "{not json", "content_type": "application/json"},
        {},
    ],
    ids=["form", "broken_json", "no_body"],
)
def test_token_request_that_is_not_json_is_rejected(client, alice, options):
    error_of(client.post("/api/v1/tokens", **options), 400)


def test_nul_in_email_is_a_client_error_not_a_crash(client, alice):
    # PostgreSQL refuses NUL in text, so it must never reach a query.
    response = create_token(client, email="alice\x00@example.com")

    assert response.status_code in (400, 401)
    error_of(response, response.status_code)


def test_token_name_with_control_characters_is_refused_or_cleaned(client, alice):
    response = create_token(client, name="lap\x00top\x1b")

    if response.status_code == 201:
        assert response.get_json()["name"] == "laptop"
    else:
        error_of(response, 400)


def test_token_requests_back_off_like_sign_ins(app, client, alice):
    with app.app_context():
        back_off_fully("alice@example.com", "127.0.0.1", utcnow())

    response = create_token(client)

    body = error_of(response, 429)
    assert "try again in" in body["error"]["message"].lower()
    assert int(response.headers["Retry-After"]) > 0


def test_guessing_one_account_leaves_the_others_of_the_address_alone(
    client, alice, bob
):
    for _ in range(10):
        create_token(client, email="bob@example.com", password="not the password")

    assert create_token(client).status_code == 201


def test_an_address_guessing_many_accounts_gets_no_token(app, client, alice):
    with app.app_context():
        guess_many_accounts("127.0.0.1", 100, utcnow())

    error_of(create_token(client), 429)


def test_token_list_shows_metadata_and_never_the_secret(client, alice, bob):
    used = create_token(client, name="used").get_json()
    unused = create_token(client, name="unused").get_json()
    create_token(client, email="bob@example.com", name="bob's")

    response = client.get("/api/v1/tokens", headers=bearer(used["token"]))

    assert response.status_code == 200
    listed = {token["name"]: token for token in response.get_json()["tokens"]}
    assert set(listed) == {"used", "unused"}
    for token in listed.values():
        assert set(token) == {"id", "name", "created_at", "last_used_at"}
        assert token["created_at"]
    assert listed["used"]["id"] == used["id"]
    assert listed["used"]["last_used_at"] is not None
    assert listed["unused"]["last_used_at"] is None
    text = response.get_data(as_text=True)
    assert used["token"] not in text
    assert unused["token"] not in text


def test_revoked_token_stops_working_at_once(client, alice):
    token = create_token(client).get_json()
    headers = bearer(token["token"])
    assert client.get("/api/v1/me", headers=headers).status_code == 200

    response = client.delete(f"/api/v1/tokens/{token['id']}", headers=headers)

    assert response.status_code == 204
    error_of(client.get("/api/v1/me", headers=headers), 401)


def test_revoking_someone_elses_token_is_not_found(client, alice, bob):
    mine = create_token(client).get_json()
    theirs = create_token(client, email="bob@example.com").get_json()

    response = client.delete(
        f"/api/v1/tokens/{theirs['id']}", headers=bearer(mine["token"])
    )

    error_of(response, 404, "not_found")
    assert client.get("/api/v1/me", headers=bearer(theirs["token"])).status_code == 200


# Authentication


def test_request_without_auth_gets_401_with_a_challenge(client, alice):
    response = client.get("/api/v1/me")

    error_of(response, 401)
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer vault_not-a-real-token",
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "vault_not-a-real-token",
    ],
)
def test_malformed_or_unknown_bearer_gets_401(client, alice, header):
    response = client.get("/api/v1/me", headers={"Authorization": header})

    error_of(response, 401)
    assert "WWW-Authenticate" in response.headers


def test_disabled_users_token_gets_401(app, client, alice, api_headers):
    headers = api_headers(alice)
    with app.app_context():
        db.session.execute(update(User).values(disabled=True))
        db.session.commit()

    error_of(client.get("/api/v1/me", headers=headers), 401)


def test_browser_session_can_read_the_api(client, auth, alice, upload):
    upload(alice)
    auth.login()

    assert client.get("/api/v1/me").get_json()["email"] == "alice@example.com"
    assert len(client.get("/api/v1/files").get_json()["files"]) == 1


@pytest.mark.parametrize("csrf_header", [None, "not-the-token"])
def test_session_writes_without_valid_csrf_header_are_refused(
    app, client, auth, alice, upload, csrf_header
):
    file = upload(alice)
    auth.login()
    headers = {"X-CSRFToken": csrf_header} if csrf_header else {}

    uploaded = post_files(client, headers, ("a.txt", b"a"))
    deleted = client.delete(f"/api/v1/files/{file.id}", headers=headers)

    error_of(uploaded, 400, "csrf_failed")
    error_of(deleted, 400, "csrf_failed")
    assert [(row.id, row.trashed_at) for row in rows(app)] == [(file.id, None)]
    assert blobs(app) == [file.storage_key]


def test_session_writes_with_csrf_header_succeed(app, client, auth, alice, upload):
    file = upload(alice)
    auth.login()
    headers = {"X-CSRFToken": csrf_token_from(client.get("/").get_data(as_text=True))}

    uploaded = post_files(client, headers, ("a.txt", b"a"))
    deleted = client.delete(f"/api/v1/files/{file.id}", headers=headers)

    assert uploaded.status_code == 201
    assert deleted.status_code == 204
    assert [row.name for row in rows(app) if row.trashed_at is None] == ["a.txt"]


# The caller's account


def test_me_describes_the_caller(client, alice, bob, api_headers):
    body = client.get("/api/v1/me", headers=api_headers(bob)).get_json()

    assert body == {
        "id": bob.id,
        "email": "bob@example.com",
        "is_admin": False,
        "used_bytes": 0,
        "quota_bytes": None,
        "free_bytes": None,
        "reserved_bytes": 0,
        "trash_bytes": 0,
    }


@pytest.mark.parametrize("app_config", [{"DEFAULT_QUOTA": "1 MB"}], indirect=True)
def test_me_shows_the_quota_when_there_is_one(client, alice, api_headers):
    body = client.get("/api/v1/me", headers=api_headers(alice)).get_json()

    assert body["quota_bytes"] == 1_000_000
    assert body["is_admin"] is True


def test_used_bytes_follow_uploads_and_deletes_for_good(client, alice, api_headers):
    headers = api_headers(alice)

    def used():
        return client.get("/api/v1/me", headers=headers).get_json()["used_bytes"]

    uploaded = post_files(client, headers, ("a.txt", b"12345"), ("b.txt", b"678"))
    [first, _] = uploaded.get_json()["files"]
    assert used() == 8
    client.delete(f"/api/v1/files/{first['id']}", headers=headers)
    assert used() == 8  # trashed bytes count until purged
    client.delete(f"/api/v1/trash/{first['id']}", headers=headers)
    assert used() == 3


# Uploading


def test_upload_of_one_file_describes_it(client, alice, api_headers):
    response = post_files(client, api_headers(alice), ("notes.txt", CONTENT))

    assert response.status_code == 201
    [file] = response.get_json()["files"]
    assert set(file) == {
        "id",
        "name",
        "size",
        "sha256",
        "content_type",
        "folder_id",
        "created_at",
    }
    assert file["name"] == "notes.txt"
    assert file["folder_id"] is None
    assert file["size"] == len(CONTENT)
    assert file["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert file["content_type"] == "text/plain"
    assert file["created_at"].endswith("Z")


def test_upload_of_several_files_stores_each(app, client, alice, api_headers):
    parts = [("a.txt", b"first"), ("b.png", PNG), ("c.pdf", PDF), ("d.jpg", JPEG)]

    response = post_files(client, api_headers(alice), *parts)

    assert response.status_code == 201
    stored = response.get_json()["files"]
    assert [(file["name"], file["size"], file["sha256"]) for file in stored] == [
        (name, len(content), hashlib.sha256(content).hexdigest())
        for name, content in parts
    ]
    assert [file["content_type"] for file in stored[1:]] == [
        "image/png",
        "application/pdf",
        "image/jpeg",
    ]
    assert len(rows(app)) == len(blobs(app)) == 4


def test_file_ids_are_random_not_sequential(client, alice, api_headers):
    response = post_files(client, api_headers(alice), ("a.txt", b"a"), ("b.txt", b"b"))

    ids = [file["id"] for file in response.get_json()["files"]]
    assert all(HEX32.fullmatch(file_id) for file_id in ids)
    assert abs(int(ids[0], 16) - int(ids[1], 16)) > 1


def test_upload_without_a_file_part_is_rejected(app, client, alice, api_headers):
    headers = api_headers(alice)

    other_field = post_files(client, headers, ("a.txt", b"a"), field="upload")
    no_body = client.post("/api/v1/files", headers=headers)

    error_of(other_field, 400)
    error_of(no_body, 400)
    assert rows(app) == []
    assert blobs(app) == []


@pytest.mark.parametrize("name", ["", "/", "\x00", "\u202e"])
def test_upload_with_empty_name_is_rejected(app, client, alice, api_headers, name):
    error_of(post_files(client, api_headers(alice), (name, b"a")), 400)
    assert rows(app) == []
    assert blobs(app) == []


@pytest.mark.parametrize("name", ["tool.exe", "TOOL.EXE", "no_extension"])
def test_upload_of_a_type_the_operator_refuses_is_refused(
    app, client, alice, api_headers, name
):
    app.config["ALLOWED_EXTENSIONS"] = "txt png"
    response = post_files(client, api_headers(alice), (name, b"MZ\x90\x00"))

    error_of(response, 415, "file_type_not_allowed")
    assert rows(app) == []
    assert blobs(app) == []


@pytest.mark.parametrize("name", ["photo.png", "photo.jpg", "paper.pdf", "x.gif"])
def test_upload_with_content_not_matching_its_extension_is_refused(
    app, client, alice, api_headers, name
):
    response = post_files(client, api_headers(alice), (name, b"<script>1</script>"))

    error_of(response, 415, "content_mismatch")
    assert rows(app) == []
    assert blobs(app) == []


@pytest.mark.parametrize(
    "parts",
    [
        [("good.txt", b"good"), ("evil.jpg", b"MZ")],
        [("evil.jpg", b"MZ"), ("good.txt", b"good")],
        [("good.txt", b"good"), ("fake.png", b"not a png")],
        [("real.png", PNG), ("fake.png", b"not a png"), ("good.txt", b"good")],
    ],
)
def test_upload_with_one_bad_file_stores_none(app, client, alice, api_headers, parts):
    error_of(post_files(client, api_headers(alice), *parts), 415)

    assert rows(app) == []
    assert blobs(app) == []
    body = client.get("/api/v1/me", headers=api_headers(alice)).get_json()
    assert body["used_bytes"] == 0


@pytest.mark.parametrize(
    "headers, environ",
    [({}, {}), ({"Transfer-Encoding": "chunked"}, {"wsgi.input_terminated": True})],
    ids=["declared_length", "streamed"],
)
def test_upload_over_the_cap_is_refused(
    app, client, alice, api_headers, headers, environ
):
    boundary, body = big_multipart(9 * 1024 * 1024)

    response = client.post(
        "/api/v1/files",
        headers={**api_headers(alice), **headers},
        input_stream=io.BytesIO(body),
        content_type=f"multipart/form-data; boundary={boundary}",
        environ_overrides=environ,
    )

    error_of(response, 413)
    assert rows(app) == []
    assert blobs(app) == []


@pytest.mark.parametrize("app_config", [{"DEFAULT_QUOTA": "10 B"}], indirect=True)
def test_upload_over_the_quota_stores_nothing(app, client, alice, api_headers):
    parts = [("a.txt", b"123456"), ("b.txt", b"789012")]

    response = post_files(client, api_headers(alice), *parts)

    error_of(response, 507, "quota_exceeded")
    assert rows(app) == []
    assert blobs(app) == []
    assert rows(app, User)[0].used_bytes == 0


def test_traversal_name_never_reaches_the_filesystem(
    app, client, alice, api_headers, tmp_path
):
    response = post_files(client, api_headers(alice), ("../../x.txt", CONTENT))

    assert response.status_code == 201
    [file] = response.get_json()["files"]
    assert "/" not in file["name"]
    assert file["name"].endswith(".txt")
    [key] = blobs(app)
    namespace, name = key.split("/")
    assert namespace == alice.id
    assert HEX32.fullmatch(name)
    assert blob_bytes(app, key) == CONTENT
    assert not list(tmp_path.rglob("x.txt"))


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("a\x00b.txt", "ab.txt"),
        ("a\x07b\x1bc\x7f.txt", "abc.txt"),
        ("tab\there\u2028.txt", "tabhere.txt"),
        ("re\u202eport.txt", "report.txt"),
        ("evil\u202etxt.gpj\u202c.txt", "eviltxt.gpj.txt"),
        ("e\u0301te\u0301.txt", "\u00e9t\u00e9.txt"),
        ("résumé 2024.txt", "résumé 2024.txt"),
    ],
)
def test_upload_names_are_cleaned(client, alice, api_headers, raw, cleaned):
    response = post_files(client, api_headers(alice), (raw, b"a"))

    assert response.status_code == 201
    assert response.get_json()["files"][0]["name"] == cleaned


@pytest.mark.parametrize("encoded", ["dir%5Csub%5Cx.txt", "..%5C..%5Cx.txt"])
def test_backslashes_are_removed_from_names(client, alice, api_headers, encoded):
    # Sent as an RFC 5987 filename* so no multipart unquoting eats the backslashes.
    body = (
        '--b\r\nContent-Disposition: form-data; name="file"; '
        f"filename*=UTF-8''{encoded}\r\n\r\nabc\r\n--b--\r\n"
    )

    response = client.post(
        "/api/v1/files",
        headers=api_headers(alice),
        data=body,
        content_type="multipart/form-data; boundary=b",
    )

    assert response.status_code == 201
    name = response.get_json()["files"][0]["name"]
    assert "\\" not in name
    assert name.endswith("x.txt")


@pytest.mark.parametrize("stem", ["a" * 296, "é" * 296, "日" * 296])
def test_long_name_is_cut_to_255_bytes_keeping_its_extension(
    client, alice, api_headers, stem
):
    response = post_files(client, api_headers(alice), (stem + ".txt", b"a"))

    assert response.status_code == 201
    name = response.get_json()["files"][0]["name"]
    assert len(name.encode()) <= 255
    assert name.endswith(".txt")
    assert stem.startswith(name.removesuffix(".txt"))
    assert len(name.encode()) > 250


# Listing


def test_list_shows_only_my_files(client, alice, bob, upload, api_headers):
    mine = upload(alice, "mine.txt")
    upload(bob, "theirs.txt")

    body = client.get("/api/v1/files", headers=api_headers(alice)).get_json()

    assert [file["id"] for file in body["files"]] == [mine.id]
    assert body["next_cursor"] is None


def test_list_is_newest_first(app, client, alice, api_headers):
    noon = datetime(2024, 5, 1, 12, 0)
    store_at(app, alice, "middle.txt", noon)
    store_at(app, alice, "newest.txt", noon + timedelta(hours=1))
    store_at(app, alice, "oldest.txt", noon - timedelta(days=1))

    body = client.get("/api/v1/files", headers=api_headers(alice)).get_json()

    names = [file["name"] for file in body["files"]]
    assert names == ["newest.txt", "middle.txt", "oldest.txt"]


@pytest.mark.parametrize("step", [timedelta(minutes=1), timedelta(0)])
def test_cursor_walks_every_file_exactly_once(app, client, alice, api_headers, step):
    start = datetime(2024, 5, 1, 12, 0)
    stored = {store_at(app, alice, f"{n}.txt", start + n * step) for n in range(5)}
    headers = api_headers(alice)
    seen, pages, cursor = [], [], None

    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/files", query_string=query, headers=headers)
        page = body.get_json()
        pages.append(len(page["files"]))
        seen += [file["id"] for file in page["files"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == [2, 2, 1]
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == stored
    whole = client.get("/api/v1/files", headers=headers).get_json()["files"]
    assert seen == [file["id"] for file in whole]


@pytest.mark.parametrize("limit", ["0", "1001", "abc", "-1", "1.5", "", "²"])
def test_list_rejects_a_bad_limit(client, alice, api_headers, limit):
    response = client.get(
        "/api/v1/files", query_string={"limit": limit}, headers=api_headers(alice)
    )

    error_of(response, 400)


def test_list_accepts_the_largest_limit(client, alice, upload, api_headers):
    upload(alice)

    response = client.get("/api/v1/files?limit=1000", headers=api_headers(alice))

    assert response.status_code == 200


def _encoded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "a",
        _encoded(b"no separator"),
        _encoded(b"not a date|abc"),
        _encoded(b"2024-01-01T00:00:00|a|b"),
        _encoded(b"\xff\xfe|\xfd"),
        _encoded(b"2024-01-01T00:00:00|a\x00b"),
    ],
    ids=[
        "bad_base64",
        "short",
        "no_separator",
        "bad_date",
        "extra_field",
        "not_utf8",
        "nul_in_id",
    ],
)
def test_list_rejects_a_garbage_cursor(client, alice, upload, api_headers, cursor):
    upload(alice)

    response = client.get(
        "/api/v1/files", query_string={"cursor": cursor}, headers=api_headers(alice)
    )

    error_of(response, 400)


# One file


def test_file_object_matches_the_upload_answer(client, alice, api_headers):
    headers = api_headers(alice)
    [uploaded] = post_files(client, headers, ("a.txt", b"a")).get_json()["files"]

    response = client.get(f"/api/v1/files/{uploaded['id']}", headers=headers)

    assert response.status_code == 200
    assert response.get_json() == uploaded


@pytest.mark.parametrize("suffix", ["", "/content"])
def test_someone_elses_file_looks_missing(
    client, alice, bob, upload, api_headers, suffix
):
    theirs = upload(bob)
    headers = api_headers(alice)

    other = client.get(f"/api/v1/files/{theirs.id}{suffix}", headers=headers)
    missing = client.get(f"/api/v1/files/{MISSING_ID}{suffix}", headers=headers)

    assert error_of(other, 404, "not_found") == error_of(missing, 404)
    assert CONTENT not in other.get_data()


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/files/not%00hex"),
        ("get", "/api/v1/files/not%00hex/content"),
        ("delete", "/api/v1/files/not%00hex"),
        ("delete", "/api/v1/tokens/not%00hex"),
    ],
)
def test_malformed_id_is_not_found(client, alice, api_headers, method, path):
    # PostgreSQL refuses NUL in text: such an id must still be a plain 404.
    response = getattr(client, method)(path, headers=api_headers(alice))

    error_of(response, 404, "not_found")


def test_content_is_served_as_a_safe_attachment(client, alice, upload, api_headers):
    file = upload(alice, "résumé.txt", CONTENT)

    response = client.get(
        f"/api/v1/files/{file.id}/content", headers=api_headers(alice)
    )

    assert response.status_code == 200
    assert response.data == CONTENT
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9.txt" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    directives = response.headers["Content-Security-Policy"].split(";")
    assert "sandbox" in [directive.split()[0] for directive in directives]
    assert response.headers["ETag"]
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.content_length == len(CONTENT)


@pytest.mark.parametrize(
    "header, start, stop",
    [("bytes=2-5", 2, 6), ("bytes=-3", 9, 12), ("bytes=10-", 10, 12)],
)
def test_range_gets_exactly_those_bytes(
    client, alice, upload, api_headers, header, start, stop
):
    file = upload(alice, "notes.txt", CONTENT)

    response = client.get(
        f"/api/v1/files/{file.id}/content",
        headers={**api_headers(alice), "Range": header},
    )

    assert response.status_code == 206
    assert response.data == CONTENT[start:stop]
    assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/12"


def test_unsatisfiable_range_gets_416(client, alice, upload, api_headers):
    file = upload(alice, "notes.txt", CONTENT)

    response = client.get(
        f"/api/v1/files/{file.id}/content",
        headers={**api_headers(alice), "Range": "bytes=50-60"},
    )

    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(CONTENT)}"


def test_matching_if_none_match_gets_304(client, alice, upload, api_headers):
    file = upload(alice)
    url = f"/api/v1/files/{file.id}/content"
    headers = api_headers(alice)
    etag = client.get(url, headers=headers).headers["ETag"]

    response = client.get(url, headers={**headers, "If-None-Match": etag})

    assert response.status_code == 304
    assert response.data == b""


@pytest.mark.parametrize("matches, status", [(True, 206), (False, 200)])
def test_if_range_serves_the_range_only_for_the_current_etag(
    client, alice, upload, api_headers, matches, status
):
    file = upload(alice, "notes.txt", CONTENT)
    url = f"/api/v1/files/{file.id}/content"
    headers = api_headers(alice)
    etag = client.get(url, headers=headers).headers["ETag"] if matches else '"old"'

    response = client.get(
        url, headers={**headers, "Range": "bytes=2-5", "If-Range": etag}
    )

    assert response.status_code == status
    assert response.data == (CONTENT[2:6] if matches else CONTENT)


# Deleting


def test_delete_moves_the_file_to_the_trash(app, client, alice, upload, api_headers):
    file = upload(alice)
    headers = api_headers(alice)

    response = client.delete(f"/api/v1/files/{file.id}", headers=headers)

    assert response.status_code == 204
    [row] = rows(app)
    assert row.trashed_at is not None
    assert blob_bytes(app, file.storage_key) == CONTENT
    error_of(client.get(f"/api/v1/files/{file.id}", headers=headers), 404)
    error_of(client.get(f"/api/v1/files/{file.id}/content", headers=headers), 404)
    assert client.get("/api/v1/files", headers=headers).get_json()["files"] == []
    trash = client.get("/api/v1/trash", headers=headers).get_json()["items"]
    assert [item["id"] for item in trash] == [file.id]


def test_delete_for_good_removes_row_and_blob(app, client, alice, upload, api_headers):
    file = upload(alice)
    headers = api_headers(alice)
    client.delete(f"/api/v1/files/{file.id}", headers=headers)

    response = client.delete(f"/api/v1/trash/{file.id}", headers=headers)

    assert response.status_code == 204
    assert rows(app) == []
    assert blob_bytes(app, file.storage_key) is None


def test_deleting_someone_elses_file_is_not_found(
    app, client, alice, bob, upload, api_headers
):
    theirs = upload(bob, "theirs.txt", CONTENT)

    response = client.delete(f"/api/v1/files/{theirs.id}", headers=api_headers(alice))

    error_of(response, 404, "not_found")
    assert [(row.id, row.trashed_at) for row in rows(app)] == [(theirs.id, None)]
    assert blob_bytes(app, theirs.storage_key) == CONTENT
    content = client.get(f"/api/v1/files/{theirs.id}/content", headers=api_headers(bob))
    assert content.data == CONTENT
