"""JSON API for the tree: folders, renaming and moving files, as clients see them."""

import io

import pytest

from tests.factories import PNG
from tests.helpers import blobs, error_of, live_nodes, node

MISSING_ID = "0" * 32


@pytest.fixture
def headers(alice, api_headers):
    return api_headers(alice)


def create_folder(client, headers, name, parent_id=None):
    body = {"name": name, "parent_id": parent_id}
    return client.post("/api/v1/folders", headers=headers, json=body)


def patch(client, headers, kind, node_id, **body):
    return client.patch(f"/api/v1/{kind}/{node_id}", headers=headers, json=body)


# --- folders -----------------------------------------------------------------


def test_create_nested_folders(client, app, headers):
    top = create_folder(client, headers, "Projects")
    below = create_folder(client, headers, "Vault", top.get_json()["id"])

    assert top.status_code == below.status_code == 201
    body = below.get_json()
    assert body["name"] == "Vault"
    assert body["parent_id"] == top.get_json()["id"]
    assert body["created_at"].endswith("Z")
    assert node(app, body["id"]).is_folder


def test_root_lists_folders_and_files(client, alice, headers, upload, make_folder):
    make_folder(alice, "Music")
    file = upload(alice, "top.txt", b"top")
    inner = make_folder(alice, "Inner", make_folder(alice, "Books").id)

    body = client.get("/api/v1/folders/root", headers=headers).get_json()

    assert body["id"] is None
    assert [folder["name"] for folder in body["folders"]] == ["Books", "Music"]
    assert [(item["id"], item["folder_id"]) for item in body["files"]] == [
        (file.id, None)
    ]
    assert inner.id not in str(body)


def test_folder_describes_itself_and_its_children(
    client, alice, headers, upload, make_folder
):
    folder = make_folder(alice, "Books")
    sub = make_folder(alice, "Sub", folder.id)
    file = upload(alice, "inside.pdf", b"%PDF-1.4\n", folder_id=folder.id)
    upload(alice, "elsewhere.txt")

    body = client.get(f"/api/v1/folders/{folder.id}", headers=headers).get_json()

    assert (body["id"], body["name"], body["parent_id"]) == (folder.id, "Books", None)
    assert [(item["id"], item["parent_id"]) for item in body["folders"]] == [
        (sub.id, folder.id)
    ]
    assert [(item["id"], item["folder_id"]) for item in body["files"]] == [
        (file.id, folder.id)
    ]


def test_a_file_id_is_not_a_folder(client, alice, headers, upload):
    file = upload(alice)

    error_of(client.get(f"/api/v1/folders/{file.id}", headers=headers), 404)


@pytest.mark.parametrize("name", ["Music", "music", "MUSIC"])
def test_folder_name_taken_case_insensitively_is_a_conflict(
    client, app, alice, headers, make_folder, name
):
    make_folder(alice, "Music")

    error_of(create_folder(client, headers, name), 409, "conflict")
    assert len(live_nodes(app)) == 1


@pytest.mark.parametrize(
    "body",
    [{"parent_id": None}, {"name": 5}, {"name": "ok", "parent_id": 5}, {"name": ".."}],
)
def test_bad_folder_requests_are_refused(client, app, headers, body):
    response = client.post("/api/v1/folders", headers=headers, json=body)

    error_of(response, 400)
    assert live_nodes(app) == []


def test_rename_and_move_a_folder(client, app, alice, headers, make_folder, upload):
    folder = make_folder(alice, "Old")
    target = make_folder(alice, "Target")
    file = upload(alice, "inside.txt", b"inside", folder_id=folder.id)
    before = blobs(app)

    renamed = patch(client, headers, "folders", folder.id, name="New")
    moved = patch(client, headers, "folders", folder.id, parent_id=target.id)
    back = patch(client, headers, "folders", folder.id, parent_id=None)

    assert renamed.get_json()["name"] == "New"
    assert moved.get_json()["parent_id"] == target.id
    assert back.get_json()["parent_id"] is None
    assert node(app, file.id).parent_id == folder.id
    assert blobs(app) == before


@pytest.mark.parametrize("into", ["itself", "its child", "its grandchild"])
def test_a_folder_cannot_move_into_its_own_subtree(
    client, app, alice, headers, make_folder, into
):
    top = make_folder(alice, "Top")
    child = make_folder(alice, "Child", top.id)
    grandchild = make_folder(alice, "Grandchild", child.id)
    target = {"itself": top, "its child": child, "its grandchild": grandchild}[into]

    response = patch(client, headers, "folders", top.id, parent_id=target.id)

    error_of(response, 409, "conflict")
    assert node(app, top.id).parent_id is None


def test_delete_folder_moves_it_to_the_trash(client, app, alice, headers, make_folder):
    folder = make_folder(alice, "Old")

    response = client.delete(f"/api/v1/folders/{folder.id}", headers=headers)

    assert response.status_code == 204
    assert node(app, folder.id).trashed_at is not None
    error_of(client.get(f"/api/v1/folders/{folder.id}", headers=headers), 404)


# --- files: rename and move ------------------------------------------------------


def test_patch_renames_and_moves_a_file_without_touching_its_bytes(
    client, app, alice, headers, upload, make_folder
):
    folder = make_folder(alice, "Docs")
    file = upload(alice, "draft.txt", b"words")
    before = blobs(app)

    response = patch(
        client, headers, "files", file.id, name="final.txt", folder_id=folder.id
    )

    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["folder_id"]) == ("final.txt", folder.id)
    assert node(app, file.id).storage_key == file.storage_key
    assert blobs(app) == before
    content = client.get(f"/api/v1/files/{file.id}/content", headers=headers)
    assert content.data == b"words"


def test_patch_with_null_folder_moves_to_the_root(
    client, app, alice, headers, upload, make_folder
):
    folder = make_folder(alice, "Docs")
    file = upload(alice, "a.txt", folder_id=folder.id)

    response = patch(client, headers, "files", file.id, folder_id=None)

    assert response.get_json()["folder_id"] is None
    assert node(app, file.id).parent_id is None


@pytest.mark.parametrize(
    ("original", "content", "name", "code"),
    [
        ("notes.txt", b"text", "notes.pdf", "content_mismatch"),
        ("notes.txt", b"text", "notes.png", "content_mismatch"),
        ("photo.png", PNG, "photo.jpg", "content_mismatch"),
    ],
)
def test_rename_to_a_type_the_file_is_not_is_refused(
    client, app, alice, headers, upload, original, content, name, code
):
    file = upload(alice, original, content)

    error_of(patch(client, headers, "files", file.id, name=name), 415, code)
    assert node(app, file.id).name == original


def test_rename_into_a_taken_name_is_a_conflict(client, app, alice, headers, upload):
    upload(alice, "a.txt")
    file = upload(alice, "b.txt")

    error_of(patch(client, headers, "files", file.id, name="A.txt"), 409, "conflict")
    assert node(app, file.id).name == "b.txt"


def test_move_into_a_taken_name_is_a_conflict(
    client, app, alice, headers, upload, make_folder
):
    folder = make_folder(alice, "Docs")
    upload(alice, "a.txt", folder_id=folder.id)
    file = upload(alice, "A.TXT")

    response = patch(client, headers, "files", file.id, folder_id=folder.id)

    error_of(response, 409, "conflict")
    assert node(app, file.id).parent_id is None


def test_a_refused_patch_changes_nothing(
    client, app, alice, headers, upload, make_folder
):
    folder = make_folder(alice, "Docs")
    upload(alice, "final.txt", folder_id=folder.id)
    file = upload(alice, "draft.txt")

    response = patch(
        client, headers, "files", file.id, name="final.txt", folder_id=folder.id
    )

    error_of(response, 409, "conflict")
    row = node(app, file.id)
    assert (row.name, row.parent_id) == ("draft.txt", None)


@pytest.mark.parametrize(
    "body", [{"name": 1}, {"folder_id": 1}, {"folder_id": ["x"]}, []]
)
def test_bad_patch_bodies_are_refused(client, app, alice, headers, upload, body):
    file = upload(alice, "a.txt")

    response = client.patch(f"/api/v1/files/{file.id}", headers=headers, json=body)

    error_of(response, 400)
    assert node(app, file.id).name == "a.txt"


# --- someone else's ids are not found, wherever they appear ------------------------


@pytest.fixture
def alices_folder(alice, make_folder):
    return make_folder(alice, "Alice's folder")


@pytest.mark.parametrize("whose", ["alice's", "missing"])
def test_someone_elses_folder_cannot_be_a_parent_or_target(
    app, client, bob, api_headers, upload, make_folder, alices_folder, whose
):
    folder_id = alices_folder.id if whose == "alice's" else MISSING_ID
    headers = api_headers(bob)
    bobs_file = upload(bob, "bob.txt")
    bobs_folder = make_folder(bob, "Bob's folder")

    responses = [
        create_folder(client, headers, "Planted", folder_id),
        patch(client, headers, "files", bobs_file.id, folder_id=folder_id),
        patch(client, headers, "folders", bobs_folder.id, parent_id=folder_id),
        client.post(
            "/api/v1/files",
            headers=headers,
            data={"file": (io.BytesIO(b"x"), "planted.txt"), "folder_id": folder_id},
        ),
        client.get(f"/api/v1/folders/{folder_id}", headers=headers),
    ]

    for response in responses:
        error_of(response, 404, "not_found")
    assert node(app, bobs_file.id).parent_id is None
    assert node(app, bobs_folder.id).parent_id is None
    assert {item.name for item in live_nodes(app)} == {
        "Alice's folder",
        "bob.txt",
        "Bob's folder",
    }
