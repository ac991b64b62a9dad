"""Every front end keeps every file by default; an operator's list still refuses.

And names a person types are kept as typed, or refused with a message that
says what to change.
"""

import html
import io

import pytest

from tests.factories import PNG
from tests.helpers import blobs, error_of, live_nodes, nodes, post_form
from tests.test_files import post_upload
from tests.tus import Tus

pytestmark = pytest.mark.bytes

ODD_NAMES = [
    "Makefile",
    "LICENSE",
    ".bashrc",
    "disk.iso",
    "setup.exe",
    "Installer.dmg",
    "firmware.bin",
]
ADMIN_CAN_CHANGE = "Its administrator can change that (VAULT_ALLOWED_EXTENSIONS)."


def api_upload(client, headers, name, content=b"MZ\x90\x00", **fields):
    data = {"file": (io.BytesIO(content), name), **fields}
    return client.post("/api/v1/files", headers=headers, data=data)


def stored_names(app) -> list[str]:
    return sorted(node.name for node in live_nodes(app) if not node.is_folder)


@pytest.fixture
def only_pdf_and_txt(app_config):
    """The operator allows only .pdf and .txt files (VAULT_ALLOWED_EXTENSIONS)."""
    app_config["ALLOWED_EXTENSIONS"] = "pdf, txt"


# --- by default, every name ------------------------------------------------------


@pytest.mark.parametrize("name", ODD_NAMES)
def test_the_browser_form_keeps_any_name(client, app, as_alice, name):
    response = post_upload(client, (name, b"MZ\x90\x00"))

    assert response.status_code == 302
    assert stored_names(app) == [name]
    assert list(blobs(app).values()) == [b"MZ\x90\x00"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_the_api_keeps_any_name(client, app, alice, api_headers, name):
    response = api_upload(client, api_headers(alice), name, path="src/tools")

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["files"][0]["name"] == name
    assert stored_names(app) == [name]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_a_resumable_upload_keeps_any_name(client, app, alice, api_headers, name):
    tus = Tus(client, api_headers(alice))
    url = tus.start(4, name)

    response = tus.patch(url, b"MZ\x90\x00", 0)

    assert response.status_code == 204
    assert stored_names(app) == [name]


@pytest.mark.parametrize("name", ["Makefile", "tool.exe", "image.iso", ".bashrc"])
def test_a_file_can_be_renamed_to_any_name(client, app, as_alice, upload, name):
    file = upload(as_alice, "notes.txt", b"text")

    response = post_form(client, f"/items/{file.id}/rename", {"name": name})

    assert response.status_code == 302
    assert stored_names(app) == [name]


def test_content_that_lies_about_its_type_is_still_refused(
    client, app, alice, api_headers
):
    response = api_upload(client, api_headers(alice), "cat.png", b"<html>")

    error = error_of(response, 415, "content_mismatch")
    assert (
        error["message"]
        == "“cat.png” was refused: its content is not a valid PNG file."
    )
    assert nodes(app) == []
    assert api_upload(client, api_headers(alice), "cat.png", PNG).status_code == 201


# --- the operator's list -----------------------------------------------------------


@pytest.mark.parametrize("name", ["setup.exe", "Makefile"])
def test_the_operators_list_refuses_in_the_browser_and_says_who_can_change_it(
    only_pdf_and_txt, client, app, as_alice, name
):
    response = post_upload(client, (name, b"MZ\x90\x00"))

    assert response.status_code == 415
    page = html.unescape(response.get_data(as_text=True))
    assert (
        f"“{name}” was refused: this server accepts only .pdf or .txt files. "
        + ADMIN_CAN_CHANGE
    ) in page
    assert nodes(app) == []
    assert blobs(app) == {}


def test_the_operators_list_refuses_in_the_api_and_tus(
    only_pdf_and_txt, client, app, alice, api_headers
):
    headers = api_headers(alice)

    by_form = error_of(api_upload(client, headers, "setup.exe"), 415)
    by_tus = error_of(Tus(client, headers).create(4, "setup.exe"), 415)

    assert by_form["code"] == by_tus["code"] == "file_type_not_allowed"
    assert by_form["message"].endswith(ADMIN_CAN_CHANGE)
    assert by_tus["message"].endswith(ADMIN_CAN_CHANGE)
    assert api_upload(client, headers, "notes.txt", b"fine").status_code == 201
    assert stored_names(app) == ["notes.txt"]


def test_the_operators_list_applies_to_renames(
    only_pdf_and_txt, client, app, alice, api_headers, upload
):
    file = upload(alice, "notes.txt", b"text")

    response = client.patch(
        f"/api/v1/files/{file.id}",
        headers=api_headers(alice),
        json={"name": "notes.exe"},
    )

    error = error_of(response, 415, "file_type_not_allowed")
    assert error["message"].endswith(ADMIN_CAN_CHANGE)
    assert stored_names(app) == ["notes.txt"]


# --- names a person types ----------------------------------------------------------

REFUSED_NAMES = [
    ("a/b.txt", "A name cannot contain “/”: it separates folders in a path."),
    ("a\\b.txt", "A name cannot contain “\\”: it separates folders in a path."),
    (
        "tab\there.txt",
        "A name cannot contain tabs, line breaks or other control characters.",
    ),
    ("..", "“..” cannot be a name: it means “the folder above”."),
    (".", "“.” cannot be a name: it means “this folder”."),
]
REFUSED_IDS = ["slash", "backslash", "tab", "dot-dot", "dot"]


@pytest.mark.parametrize(("name", "message"), REFUSED_NAMES, ids=REFUSED_IDS)
def test_the_rename_page_refuses_a_name_it_would_change(
    client, app, as_alice, upload, name, message
):
    file = upload(as_alice, "notes.txt", b"text")

    response = post_form(client, f"/items/{file.id}/rename", {"name": name})

    assert response.status_code == 400
    assert message in html.unescape(response.get_data(as_text=True))
    assert stored_names(app) == ["notes.txt"]


@pytest.mark.parametrize(("name", "message"), REFUSED_NAMES, ids=REFUSED_IDS)
def test_the_new_folder_form_refuses_a_name_it_would_change(
    client, app, as_alice, name, message
):
    response = post_form(client, "/folders", {"name": name, "parent_id": ""})

    assert response.status_code == 400
    assert message in html.unescape(response.get_data(as_text=True))
    assert live_nodes(app) == []


@pytest.mark.parametrize(("name", "message"), REFUSED_NAMES, ids=REFUSED_IDS)
def test_the_api_refuses_a_typed_name_it_would_change(
    client, app, alice, api_headers, make_folder, name, message
):
    folder = make_folder(alice, "Work")
    headers = api_headers(alice)

    created = client.post("/api/v1/folders", headers=headers, json={"name": name})
    renamed = client.patch(
        f"/api/v1/folders/{folder.id}", headers=headers, json={"name": name}
    )

    assert error_of(created, 400, "invalid_name")["message"] == message
    assert error_of(renamed, 400, "invalid_name")["message"] == message
    assert [node.name for node in live_nodes(app)] == ["Work"]


def test_an_uploaded_name_is_cleaned_and_the_answer_says_so(
    client, app, alice, api_headers
):
    response = api_upload(client, api_headers(alice), "a\\b\tc.txt", b"text")

    assert response.status_code == 201
    assert response.get_json()["files"][0]["name"] == "abc.txt"
    assert stored_names(app) == ["abc.txt"]


def test_the_browser_form_says_which_names_were_changed(client, app, as_alice):
    response = post_upload(client, ("a\\b\tc.txt", b"text"), ("plain.txt", b"x"))

    assert response.status_code == 302
    page = html.unescape(client.get("/").get_data(as_text=True))
    assert "Uploaded 2 files. Saved under a changed name: “abc.txt”." in page
    assert stored_names(app) == ["abc.txt", "plain.txt"]


def test_an_uploaded_dot_dot_has_its_own_message(client, app, alice, api_headers):
    response = api_upload(client, api_headers(alice), "..", b"text")

    error = error_of(response, 400, "invalid_name")
    assert error["message"] == "“..” cannot be a name: it means “the folder above”."
    assert nodes(app) == []
