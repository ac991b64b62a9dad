"""Guards on every link: unknown tokens, guessing, share headers, the access log."""

from datetime import timedelta

import pytest

from tests.test_shares_public import (
    assert_share_headers,
    change_link,
    link_row,
    log_of,
    make_holiday,
    make_link,
    outcomes,
)
from vault.models import utcnow


@pytest.fixture
def holiday(alice, upload, make_folder):
    return make_holiday(alice, upload, make_folder)


@pytest.fixture
def notes(alice, upload):
    return upload(alice, "notes.txt", b"hello visitor\n")


@pytest.mark.parametrize(
    "token",
    [
        "x" * 43,
        "short",
        "é" * 10,
        "a" * 200,
        "0" * 32,
    ],
)
def test_unknown_tokens_are_not_found(client, alice, token):
    response = client.get(f"/s/{token}")

    assert response.status_code == 404
    assert "no such link" in response.get_data(as_text=True)
    assert_share_headers(response)


def test_neither_the_link_id_nor_its_stored_hash_opens_it(app, client, alice, notes):
    link = make_link(app, alice, notes)
    row = link_row(app, link)

    assert client.get(f"/s/{row.id}").status_code == 404
    assert client.get(f"/s/{row.token_hash}").status_code == 404


def test_guessing_many_tokens_is_throttled_for_every_token(app, client, alice, notes):
    link = make_link(app, alice, notes)
    limit = app.config["LOGIN_ADDRESS_MAX_FAILURES"]
    guesser = {"REMOTE_ADDR": "198.51.100.7"}

    misses = [
        client.get(f"/s/guess{number}", environ_base=guesser).status_code
        for number in range(limit)
    ]
    locked = client.get(link.url, environ_base=guesser)

    assert misses == [404] * limit
    assert locked.status_code == 429
    assert "Try again in 60 minutes" in locked.get_data(as_text=True)
    assert int(locked.headers["Retry-After"]) > 0
    assert_share_headers(locked)
    other = {"REMOTE_ADDR": "198.51.100.8"}
    assert client.get(link.url, environ_base=other).status_code == 200


def test_one_mistyped_link_opened_again_and_again_locks_nothing(
    app, client, alice, notes
):
    link = make_link(app, alice, notes)
    household = {"REMOTE_ADDR": "198.51.100.7"}
    for _ in range(2 * app.config["LOGIN_ADDRESS_MAX_FAILURES"]):
        client.get("/s/a-link-with-a-typo", environ_base=household)

    assert client.get(link.url, environ_base=household).status_code == 200


def test_an_ipv6_guesser_cannot_rotate_through_its_own_network(app, client, alice):
    limit = app.config["LOGIN_ADDRESS_MAX_FAILURES"]
    for number in range(limit):
        address = {"REMOTE_ADDR": f"2001:db8:1:2::{number + 1:x}"}
        client.get(f"/s/guess{number}", environ_base=address)

    response = client.get(
        "/s/another", environ_base={"REMOTE_ADDR": "2001:db8:1:2::ff"}
    )

    assert response.status_code == 429


def test_share_headers_are_on_every_kind_of_answer(app, client, alice, notes, holiday):
    file_link = make_link(app, alice, notes)
    folder_link = make_link(app, alice, holiday["folder"])
    locked = make_link(app, alice, notes, password="sesame")
    revoked = make_link(app, alice, notes)
    change_link(app, revoked, revoked_at=utcnow())

    responses = [
        client.get(file_link.url),
        client.get(f"{file_link.url}/download"),
        client.get(f"{file_link.url}/download", headers={"Range": "bytes=1-2"}),
        client.get(f"{folder_link.url}/zip"),
        client.get(f"{folder_link.url}/files/{holiday['beach'].id}/thumbnail"),
        client.get(locked.url),
        client.get(f"{locked.url}/download"),
        client.get(revoked.url),
        client.get("/s/unknown"),
        client.get(f"{file_link.url}/no/such/page"),
        client.post(f"{file_link.url}/download"),
    ]

    assert [response.status_code for response in responses] == [
        200,
        200,
        206,
        200,
        200,
        200,
        401,
        410,
        404,
        404,
        405,
    ]
    for response in responses:
        assert_share_headers(response)


def test_the_bytes_keep_their_sandbox(app, client, alice, holiday):
    link = make_link(app, alice, holiday["folder"])

    for path in (
        f"/files/{holiday['day'].id}/view",
        f"/files/{holiday['beach'].id}/thumbnail",
        "/zip",
    ):
        response = client.get(link.url + path)
        assert response.headers["Content-Security-Policy"].startswith("sandbox")


def test_other_pages_keep_their_own_headers(client, alice):
    response = client.get("/login")

    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "X-Robots-Tag" not in response.headers


def test_the_log_keeps_a_blurred_address_and_what_was_fetched(
    app, client, alice, holiday
):
    link = make_link(app, alice, holiday["folder"])
    visitor = {"REMOTE_ADDR": "203.0.113.77"}
    headers = {"User-Agent": "Firefox/140"}

    client.get(link.url, environ_base=visitor, headers=headers)
    client.get(f"{link.url}/f/{holiday['trip'].id}", environ_base=visitor)
    client.get(f"{link.url}/files/{holiday['day'].id}/download", environ_base=visitor)
    client.get(f"{link.url}/zip", environ_base={"REMOTE_ADDR": "2001:db8:aa:bb::1"})

    log = log_of(app, link)
    assert [(row.outcome, row.detail) for row in log] == [
        ("view", None),
        ("view", "Trip"),
        ("download", "day.txt"),
        ("zip", "Holiday.zip"),
    ]
    assert [row.address for row in log] == ["203.0.113.0/24"] * 3 + ["2001:db8:aa::/48"]
    assert log[0].user_agent == "Firefox/140"


def test_a_gone_link_is_logged(app, client, alice, notes):
    link = make_link(app, alice, notes)
    change_link(app, link, expires_at=utcnow() - timedelta(seconds=1))

    assert client.get(link.url).status_code == 410
    assert outcomes(app, link) == ["gone"]
