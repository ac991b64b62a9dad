"""Uploading into folders, creating paths, and what happens when a name is taken."""

import io
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from tests.conftest import csrf_token_from
from tests.helpers import (
    blobs,
    error_of,
    insert_folders_together,
    live_nodes,
    node,
    nodes,
    used_bytes,
)

pytestmark = pytest.mark.bytes


@pytest.fixture
def headers(alice, api_headers):
    return api_headers(alice)


def api_upload(client, headers, *files, **fields):
    data = {"file": [(io.BytesIO(content), name) for name, content in files]}
    return client.post("/api/v1/files", headers=headers, data={**data, **fields})


def browser_upload(client, *files, **fields):
    token = csrf_token_from(client.get("/").text)
    data = {"files": [(io.BytesIO(content), name) for name, content in files]}
    return client.post(
        "/upload",
        data={**data, **fields, "csrf_token": token},
        content_type="multipart/form-data",
    )


def names_in(app, folder_id=None) -> list[str]:
    return sorted(item.name for item in live_nodes(app) if item.parent_id == folder_id)


# --- where uploads go ---------------------------------------------------------------


def test_api_upload_into_a_folder(client, app, alice, headers, make_folder):
    folder = make_folder(alice, "Docs")

    response = api_upload(client, headers, ("a.txt", b"a"), folder_id=folder.id)

    assert response.status_code == 201
    [file] = response.get_json()["files"]
    assert file["folder_id"] == folder.id
    assert names_in(app, folder.id) == ["a.txt"]


def test_browser_upload_into_a_folder_returns_to_it(client, app, as_alice, make_folder):
    folder = make_folder(as_alice, "Docs")

    response = browser_upload(client, ("a.txt", b"a"), folder_id=folder.id)

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/folders/{folder.id}"
    assert names_in(app, folder.id) == ["a.txt"]


def test_path_creates_the_missing_folders(client, app, alice, headers, make_folder):
    top = make_folder(alice, "Top")
    make_folder(alice, "a", top.id)

    response = api_upload(
        client, headers, ("c.txt", b"c"), folder_id=top.id, path="a/b"
    )

    assert response.status_code == 201
    [a] = [item for item in live_nodes(app) if item.name == "a"]
    [b] = [item for item in live_nodes(app) if item.name == "b"]
    assert (a.parent_id, b.parent_id, b.is_folder) == (top.id, a.id, True)
    assert response.get_json()["files"][0]["folder_id"] == b.id
    assert names_in(app, b.id) == ["c.txt"]


@pytest.mark.parametrize("path", ["a/../b", "a/./b"])
def test_path_with_dot_segments_is_refused(client, app, headers, path):
    response = api_upload(client, headers, ("c.txt", b"c"), path=path)

    error_of(response, 400)
    assert nodes(app) == []
    assert blobs(app) == {}


def test_path_through_a_file_is_a_conflict(client, app, alice, headers, upload):
    upload(alice, "a.txt")

    error_of(api_upload(client, headers, ("c.txt", b"c"), path="a.txt/b"), 409)
    assert names_in(app) == ["a.txt"]


@pytest.mark.parametrize("upload_to", ["api", "browser"])
def test_upload_into_someone_elses_folder_is_not_found_and_stores_nothing(
    client, app, auth, alice, bob, api_headers, make_folder, upload_to
):
    folder = make_folder(alice, "Alice's folder")
    if upload_to == "api":
        response = api_upload(
            client, api_headers(bob), ("x.txt", b"planted"), folder_id=folder.id
        )
    else:
        auth.login("bob@example.com")
        response = browser_upload(client, ("x.txt", b"planted"), folder_id=folder.id)

    assert response.status_code == 404
    assert [item.name for item in nodes(app)] == ["Alice's folder"]
    assert blobs(app) == {}
    assert used_bytes(app, bob) == 0


# --- names already taken ----------------------------------------------------------


def test_rename_keeps_both_with_numbers(client, app, alice, headers, upload):
    upload(alice, "report.txt", b"first")

    names = [
        api_upload(client, headers, ("Report.txt", content)).get_json()["files"][0][
            "name"
        ]
        for content in (b"second", b"third")
    ]

    assert names == ["Report (1).txt", "Report (2).txt"]
    assert names_in(app) == ["Report (1).txt", "Report (2).txt", "report.txt"]


def test_rename_is_the_default_in_the_browser_too(client, app, as_alice, upload):
    upload(as_alice, "notes.txt", b"old")

    assert browser_upload(client, ("notes.txt", b"new")).status_code == 302
    assert names_in(app) == ["notes (1).txt", "notes.txt"]


def test_a_batch_with_one_name_twice_keeps_both(client, headers):
    response = api_upload(
        client,
        headers,
        ("same.txt", b"one"),
        ("SAME.txt", b"two"),
        on_conflict="rename",
    )

    assert response.status_code == 201
    assert [file["name"] for file in response.get_json()["files"]] == [
        "same.txt",
        "SAME (1).txt",
    ]


@pytest.mark.parametrize("upload_to", ["api", "browser"])
def test_replace_moves_the_old_file_to_the_trash(
    client, app, auth, alice, api_headers, upload, upload_to
):
    old = upload(alice, "notes.txt", b"old")
    if upload_to == "api":
        response = api_upload(
            client, api_headers(alice), ("notes.txt", b"new!"), on_conflict="replace"
        )
    else:
        auth.login()
        response = browser_upload(client, ("notes.txt", b"new!"), on_conflict="replace")

    assert response.status_code in (201, 302)
    [new] = live_nodes(app)
    assert (new.name, new.size) == ("notes.txt", 4)
    assert node(app, old.id).trashed_at is not None
    assert blobs(app) == {old.storage_key: b"old", new.storage_key: b"new!"}
    assert used_bytes(app, alice) == 7  # the old bytes count until purged


def test_replace_never_replaces_a_folder(client, app, alice, headers, make_folder):
    make_folder(alice, "data.txt")

    response = api_upload(client, headers, ("data.txt", b"x"), on_conflict="replace")

    error_of(response, 409, "conflict")
    assert [(item.name, item.is_folder) for item in nodes(app)] == [("data.txt", True)]
    assert blobs(app) == {}


def test_fail_refuses_and_stores_nothing(client, app, alice, headers, upload):
    old = upload(alice, "notes.txt", b"old")

    response = api_upload(
        client,
        headers,
        ("fresh.txt", b"fresh"),
        ("NOTES.txt", b"new"),
        on_conflict="fail",
    )

    error_of(response, 409, "conflict")
    assert [item.id for item in nodes(app)] == [old.id]
    assert blobs(app) == {old.storage_key: b"old"}
    assert used_bytes(app, alice) == 3


def test_fail_within_one_batch_creates_no_folders(client, app, alice, headers):
    response = api_upload(
        client,
        headers,
        ("twice.txt", b"one"),
        ("twice.txt", b"two"),
        on_conflict="fail",
        path="new/folder",
    )

    error_of(response, 409, "conflict")
    assert nodes(app) == []
    assert blobs(app) == {}
    assert used_bytes(app, alice) == 0


def test_fail_succeeds_when_the_name_is_free(client, headers):
    response = api_upload(client, headers, ("a.txt", b"a"), on_conflict="fail")

    assert response.status_code == 201


def test_unknown_conflict_policy_is_refused(client, app, headers):
    error_of(api_upload(client, headers, ("a.txt", b"a"), on_conflict="merge"), 400)
    assert blobs(app) == {}


def test_a_name_in_the_trash_is_free_again(
    client, app, alice, headers, upload, trash_item
):
    trash_item(alice, upload(alice, "notes.txt", b"old"))

    response = api_upload(client, headers, ("notes.txt", b"new"), on_conflict="fail")

    assert response.status_code == 201
    assert names_in(app) == ["notes.txt"]


def test_parallel_uploads_into_one_new_path_share_its_folders(
    app, alice, headers, monkeypatch
):
    uploads = 4
    insert_folders_together(monkeypatch, uploads)

    def upload_one(number):
        client = app.test_client()
        content = f"file {number}".encode()
        return api_upload(client, headers, (f"{number}.txt", content), path="a/b")

    with ThreadPoolExecutor(uploads) as pool:
        responses = list(pool.map(upload_one, range(uploads)))

    assert [response.status_code for response in responses] == [201] * uploads
    folders = [item for item in live_nodes(app) if item.is_folder]
    assert sorted(folder.name for folder in folders) == ["a", "b"]
    [b] = [folder for folder in folders if folder.name == "b"]
    assert names_in(app, b.id) == [f"{number}.txt" for number in range(uploads)]
