"""Upload-only links: strangers send files into a folder, and see nothing in it."""

import html
import io
from datetime import timedelta

import pytest
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.conftest import csrf_token_from
from tests.helpers import blobs, live_nodes, set_quota, used_bytes
from tests.test_shares_public import (
    assert_share_headers,
    change_link,
    link_row,
    log_of,
    make_link,
    unlock,
)
from vault.models import utcnow
from vault.storage import local

pytestmark = pytest.mark.bytes

JSON = {"Accept": "application/json"}


@pytest.fixture
def inbox(alice, make_folder, upload):
    """Alice's Inbox folder, already holding a private file."""
    folder = make_folder(alice, "Inbox")
    upload(alice, "private-contract.txt", b"mine", folder_id=folder.id)
    return folder


def send(client, link, files, sender="", headers=None, token=None):
    """Send files through the link's form; `files` is [(name, bytes)]."""
    if token is None:
        token = csrf_token_from(client.get(link.url).get_data(as_text=True))
    fields = MultiDict({"csrf_token": token, "sender": sender})
    for name, content in files:
        fields.add("files", FileStorage(io.BytesIO(content), filename=name))
    # Encoded here, in memory: the test client would spool a big body to a
    # temporary file that a refused request never closes.
    boundary, body = encode_multipart(fields)
    return client.post(
        f"{link.url}/upload",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers or {},
    )


def inbox_names(app, inbox) -> list[str]:
    return sorted(node.name for node in live_nodes(app) if node.parent_id == inbox.id)


def test_the_page_offers_an_upload_and_shows_nothing_inside(app, client, alice, inbox):
    link = make_link(
        app,
        alice,
        inbox,
        kind="upload",
        note="Receipts please",
        max_files=3,
        max_file_size=2_000_000,
    )

    response = client.get(link.url)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Send files" in page and "Receipts please" in page
    assert "Up to 2.0 MB per file" in page
    assert "<strong>3</strong> more files accepted" in page
    assert 'enctype="multipart/form-data"' in page
    assert "Your name (optional)" in page
    assert "private-contract.txt" not in page
    assert "Inbox" not in page
    assert_share_headers(response)


def test_sending_files_stores_them_in_the_owners_folder(app, client, alice, inbox):
    link = make_link(app, alice, inbox, kind="upload")

    response = send(client, link, [("a.txt", b"aaa"), ("b.txt", b"bb")], "Ann Visitor")

    assert response.status_code == 302
    assert response.headers["Location"] == link.url
    assert "Thank you: 2 files sent." in client.get(link.url).get_data(as_text=True)
    assert inbox_names(app, inbox) == ["a.txt", "b.txt", "private-contract.txt"]
    assert used_bytes(app, alice) == len(b"mine") + 5
    assert link_row(app, link).upload_count == 2
    uploads = [row for row in log_of(app, link) if row.outcome == "upload"]
    assert [row.detail for row in uploads] == [
        "a.txt (from Ann Visitor)",
        "b.txt (from Ann Visitor)",
    ]


def test_the_script_gets_json_without_the_names_the_files_got(
    app, client, alice, inbox, upload
):
    link = make_link(app, alice, inbox, kind="upload", max_files=5)

    response = send(client, link, [("private-contract.txt", b"theirs")], headers=JSON)

    # The file was stored as "private-contract (1).txt": telling the visitor
    # would tell them what the folder already holds.
    assert response.status_code == 201
    assert response.get_json() == {
        "files": [{"name": "private-contract.txt"}],
        "files_left": 4,
    }
    assert "private-contract (1).txt" in inbox_names(app, inbox)
    [entry] = [row for row in log_of(app, link) if row.outcome == "upload"]
    assert entry.detail == "private-contract (1).txt"


def test_a_file_over_the_links_size_limit_is_refused(app, client, alice, inbox):
    link = make_link(app, alice, inbox, kind="upload", max_file_size=10)
    before = blobs(app)

    response = send(client, link, [("small.txt", b"ok"), ("big.txt", b"x" * 11)])

    assert response.status_code == 413
    assert "“big.txt” is larger than the 10 bytes this link accepts." in response.text
    assert inbox_names(app, inbox) == ["private-contract.txt"]
    assert blobs(app) == before
    assert link_row(app, link).upload_count == 0


def test_a_big_file_stops_being_written_at_the_limit(
    app, client, alice, inbox, monkeypatch
):
    written = []
    write = local.BlobWriter.write
    monkeypatch.setattr(
        local.BlobWriter,
        "write",
        lambda writer, data: written.append(len(data)) or write(writer, data),
    )
    link = make_link(app, alice, inbox, kind="upload", max_file_size=100_000)

    response = send(client, link, [("big.txt", b"x" * 3_000_000)], headers=JSON)

    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    assert sum(written) <= 100_000
    assert inbox_names(app, inbox) == ["private-contract.txt"]


def test_the_server_limit_still_applies(app, client, alice, inbox):
    link = make_link(app, alice, inbox, kind="upload")
    app.config["MAX_UPLOAD_BYTES"] = 1000

    response = send(client, link, [("big.txt", b"x" * 2000)], headers=JSON)

    assert response.status_code == 413
    assert inbox_names(app, inbox) == ["private-contract.txt"]


def test_more_files_than_the_link_takes_are_refused_all_together(
    app, client, alice, inbox
):
    link = make_link(app, alice, inbox, kind="upload", max_files=2)

    too_many = send(client, link, [("1.txt", b"1"), ("2.txt", b"2"), ("3.txt", b"3")])
    two = send(client, link, [("1.txt", b"1"), ("2.txt", b"2")])
    after = client.get(link.url)

    assert too_many.status_code == 400
    assert "This link accepts only 2 more files." in too_many.text
    assert two.status_code == 302
    assert inbox_names(app, inbox) == ["1.txt", "2.txt", "private-contract.txt"]
    assert after.status_code == 410
    assert "received all the files it accepts" in after.text


def test_the_last_places_go_to_whoever_sends_first(app, client, alice, inbox):
    link = make_link(app, alice, inbox, kind="upload", max_files=3)
    token = csrf_token_from(client.get(link.url).get_data(as_text=True))
    send(client, link, [("1.txt", b"1"), ("2.txt", b"2")], token=token)

    response = send(
        client, link, [("3.txt", b"3"), ("4.txt", b"4")], headers=JSON, token=token
    )

    assert response.status_code == 400
    assert response.get_json()["error"] == {
        "code": "too_many_files",
        "message": "This link accepts only 1 more file. Send fewer at once.",
    }


def test_uploads_count_against_the_owners_quota(app, client, make_user, make_folder):
    owner = make_user("carol@example.com")
    set_quota(app, owner, 10)
    folder = make_folder(owner, "Inbox")
    link = make_link(app, owner, folder, kind="upload")

    response = send(client, link, [("big.txt", b"x" * 11)])

    assert response.status_code == 507
    assert "not enough free space in the owner’s storage" in response.text
    assert "10 bytes" not in response.text  # the owner's numbers stay private
    assert used_bytes(app, owner) == 0
    assert link_row(app, link).upload_count == 0
    assert send(client, link, [("ok.txt", b"x" * 10)]).status_code == 302


def test_files_of_a_type_the_server_refuses_are_refused(app, client, alice, inbox):
    app.config["ALLOWED_EXTENSIONS"] = "txt pdf"
    link = make_link(app, alice, inbox, kind="upload")

    response = send(client, link, [("tool.exe", b"MZ")])

    assert response.status_code == 415
    assert "this server accepts only .pdf or .txt files" in html.unescape(
        response.get_data(as_text=True)
    )
    assert inbox_names(app, inbox) == ["private-contract.txt"]


def test_a_file_whose_content_lies_about_its_type_is_refused(app, client, alice, inbox):
    link = make_link(app, alice, inbox, kind="upload", max_files=1)

    response = send(client, link, [("photo.png", b"not a png")])

    assert response.status_code == 415
    assert link_row(app, link).upload_count == 0


def test_sending_needs_the_forms_csrf_token(app, client, alice, inbox):
    link = make_link(app, alice, inbox, kind="upload")

    response = send(client, link, [("a.txt", b"a")], token="forged")

    assert response.status_code == 400
    assert inbox_names(app, inbox) == ["private-contract.txt"]


def test_sending_with_no_file_is_refused(app, client, alice, inbox):
    link = make_link(app, alice, inbox, kind="upload")

    response = send(client, link, [])

    assert response.status_code == 400
    assert "Choose at least one file." in response.text


@pytest.mark.parametrize(
    "path",
    ["/download", "/zip", "/f/{id}", "/f/{id}/zip", "/files/{file}/download"],
)
def test_an_upload_link_never_lists_or_serves_anything(app, client, alice, inbox, path):
    link = make_link(app, alice, inbox, kind="upload")
    send(client, link, [("mine.txt", b"m")])
    [mine] = [node for node in live_nodes(app) if node.name == "mine.txt"]

    response = client.get(link.url + path.format(id=inbox.id, file=mine.id))

    assert response.status_code == 404
    assert "mine.txt" not in response.text


def test_a_download_link_takes_no_uploads(app, client, alice, inbox):
    link = make_link(app, alice, inbox)
    token = csrf_token_from(client.get("/login").get_data(as_text=True))

    response = send(client, link, [("a.txt", b"a")], token=token)

    assert response.status_code == 404
    assert inbox_names(app, inbox) == ["private-contract.txt"]


def test_a_password_upload_link_takes_nothing_before_unlocking(
    app, client, alice, inbox
):
    link = make_link(app, alice, inbox, kind="upload", password="drop here")
    token = csrf_token_from(client.get(link.url).get_data(as_text=True))

    refused = send(client, link, [("a.txt", b"a")], token=token)
    unlock(client, link, "drop here")
    accepted = send(client, link, [("a.txt", b"a")])

    assert refused.status_code == 401
    assert accepted.status_code == 302
    assert inbox_names(app, inbox) == ["a.txt", "private-contract.txt"]


@pytest.mark.parametrize(
    "values",
    [
        {"revoked_at": utcnow()},
        {"expires_at": utcnow() - timedelta(minutes=1)},
    ],
    ids=["revoked", "expired"],
)
def test_a_link_that_stopped_working_takes_no_uploads(
    app, client, alice, inbox, values
):
    link = make_link(app, alice, inbox, kind="upload")
    token = csrf_token_from(client.get(link.url).get_data(as_text=True))
    change_link(app, link, **values)

    response = send(client, link, [("a.txt", b"a")], token=token, headers=JSON)

    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "gone"
    assert inbox_names(app, inbox) == ["private-contract.txt"]


def test_sending_works_over_https_without_a_referer(app, client, alice, inbox):
    link = make_link(app, alice, inbox, kind="upload")
    secure = {"base_url": "https://vault.example"}
    token = csrf_token_from(client.get(link.url, **secure).get_data(as_text=True))
    fields = MultiDict({"csrf_token": token})
    fields.add("files", FileStorage(io.BytesIO(b"a"), filename="a.txt"))
    boundary, body = encode_multipart(fields)

    response = client.post(
        f"{link.url}/upload",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        **secure,
    )

    assert response.status_code == 302
    assert inbox_names(app, inbox) == ["a.txt", "private-contract.txt"]


def test_the_senders_name_is_cleaned_for_the_log(app, client, alice, inbox):
    link = make_link(app, alice, inbox, kind="upload")

    send(client, link, [("a.txt", b"a")], "Ann\x00\n   Lee")

    assert [(row.outcome, row.detail) for row in log_of(app, link)] == [
        ("view", None),
        ("upload", "a.txt (from Ann Lee)"),
    ]
