"""Access matrix: every URL that takes an object id, for every kind of caller."""

import pytest

from tests.conftest import csrf_token_from

# (method, url template, owner's expected status)
BROWSER_URLS = [
    ("GET", "/files/{id}/download", 200),
    ("GET", "/files/{id}/view", 200),
    ("GET", "/files/{id}/delete", 200),
    ("POST", "/files/{id}/delete", 302),
]
API_URLS = [
    ("GET", "/api/v1/files/{id}", 200),
    ("GET", "/api/v1/files/{id}/content", 200),
    ("DELETE", "/api/v1/files/{id}", 204),
]


@pytest.fixture
def alices_file(alice, upload):
    return upload(alice, "secret.txt", b"alice's secret")


def browser_request(client, auth, email, method, url):
    data = None
    if email:
        auth.login(email)
    if method == "POST":
        page = client.get("/account" if email else "/login").get_data(as_text=True)
        data = {"csrf_token": csrf_token_from(page)}
    return client.open(url, method=method, data=data)


@pytest.mark.parametrize(("method", "url", "owner_status"), BROWSER_URLS)
@pytest.mark.parametrize("caller", ["anonymous", "other user", "owner", "missing id"])
def test_browser_urls(
    client, auth, bob, alices_file, caller, method, url, owner_status
):
    file_id = "0" * 32 if caller == "missing id" else alices_file.id
    email = {"anonymous": None, "other user": bob.email}.get(
        caller, "alice@example.com"
    )
    response = browser_request(client, auth, email, method, url.format(id=file_id))
    if caller == "anonymous":
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
    elif caller == "owner":
        assert response.status_code == owner_status
    else:
        assert response.status_code == 404
        assert "secret.txt" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "url", "owner_status"), API_URLS)
@pytest.mark.parametrize("caller", ["anonymous", "other user", "owner", "missing id"])
def test_api_urls(
    client, alice, bob, api_headers, alices_file, caller, method, url, owner_status
):
    file_id = "0" * 32 if caller == "missing id" else alices_file.id
    if caller == "anonymous":
        headers = {}
    else:
        headers = api_headers(bob if caller == "other user" else alice)
    response = client.open(url.format(id=file_id), method=method, headers=headers)
    expected = {"anonymous": 401, "owner": owner_status}.get(caller, 404)
    assert response.status_code == expected
    if expected in (401, 404):
        assert response.get_json()["error"]["code"] in ("unauthorized", "not_found")


def test_someone_elses_file_survives_their_attempts(
    client, alice, bob, api_headers, alices_file
):
    client.delete(f"/api/v1/files/{alices_file.id}", headers=api_headers(bob))
    response = client.get(
        f"/api/v1/files/{alices_file.id}/content", headers=api_headers(alice)
    )
    assert response.get_data() == b"alice's secret"


def test_file_ids_are_random_not_sequential(alice, upload):
    ids = [upload(alice, f"f{n}.txt", b"x").id for n in range(3)]
    assert all(len(file_id) == 32 for file_id in ids)
    assert len({file_id[:8] for file_id in ids}) == 3
