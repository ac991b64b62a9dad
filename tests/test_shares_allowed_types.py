"""Upload links with their own list of allowed file types: strangers upload there."""

import html

import pytest

from tests.factories import JPEG, PDF
from tests.helpers import blobs, error_of, post_form
from tests.test_shares_owner import all_shares, create, text
from tests.test_shares_public import link_row, make_link
from tests.test_shares_public_uploads import JSON, inbox_names, send

pytestmark = pytest.mark.bytes

OWN = "private-contract.txt"  # in the inbox from the start


@pytest.fixture
def inbox(alice, make_folder, upload):
    folder = make_folder(alice, "Inbox")
    upload(alice, OWN, b"mine", folder_id=folder.id)
    return folder


@pytest.fixture
def pdf_and_jpg_link(app, alice, inbox):
    return make_link(app, alice, inbox, kind="upload", allowed_types="pdf, JPG")


# --- visitors ----------------------------------------------------------------------


def test_files_of_an_allowed_type_are_taken(app, client, inbox, pdf_and_jpg_link):
    response = send(client, pdf_and_jpg_link, [("scan.pdf", PDF), ("photo.JPEG", JPEG)])

    assert response.status_code == 415  # .jpeg is not .jpg: the list is exact
    response = send(client, pdf_and_jpg_link, [("scan.pdf", PDF), ("Photo.JPG", JPEG)])

    assert response.status_code == 302
    assert inbox_names(app, inbox) == ["Photo.JPG", OWN, "scan.pdf"]
    assert link_row(app, pdf_and_jpg_link).upload_count == 2


@pytest.mark.parametrize("name", ["notes.txt", "setup.exe", "Makefile", ".bashrc"])
def test_other_files_are_refused_with_a_clear_message(
    app, client, inbox, pdf_and_jpg_link, name
):
    before = blobs(app)

    response = send(client, pdf_and_jpg_link, [("scan.pdf", PDF), (name, b"MZ")])

    assert response.status_code == 415
    assert (
        f"“{name}” was refused: this link accepts only .jpg or .pdf files."
        in html.unescape(response.get_data(as_text=True))
    )
    assert inbox_names(app, inbox) == [OWN]
    assert blobs(app) == before
    assert link_row(app, pdf_and_jpg_link).upload_count == 0


def test_a_refusal_in_json_names_the_types(app, client, pdf_and_jpg_link):
    response = send(client, pdf_and_jpg_link, [("notes.txt", b"x")], headers=JSON)

    error = error_of(response, 415, "file_type_not_allowed")
    assert error["message"] == (
        "“notes.txt” was refused: this link accepts only .jpg or .pdf files."
    )


def test_the_page_tells_visitors_which_types_it_takes(client, pdf_and_jpg_link):
    page = client.get(pdf_and_jpg_link.url).get_data(as_text=True)

    assert "Only .jpg, .pdf files" in text(page)
    assert 'accept=".jpg,.pdf"' in page


def test_a_link_without_a_list_takes_any_name(app, client, alice, inbox):
    link = make_link(app, alice, inbox, kind="upload")

    response = send(client, link, [("Makefile", b"all:\n"), ("setup.exe", b"MZ")])

    assert response.status_code == 302
    assert inbox_names(app, inbox) == ["Makefile", OWN, "setup.exe"]
    assert "Only ." not in text(client.get(link.url))


# --- owners: the form --------------------------------------------------------------


def test_the_new_link_form_takes_allowed_types(app, client, as_alice, inbox):
    response = create(client, inbox, kind="upload", allowed_types=".PDF, docx jpg")

    [share] = all_shares(app)
    assert response.status_code == 302
    assert share.allowed_types == "docx jpg pdf"
    assert "File types .docx, .jpg, .pdf" in text(client.get(f"/shares/{share.id}"))


def test_the_settings_change_the_allowed_types(app, client, as_alice, inbox):
    create(client, inbox, kind="upload", allowed_types="pdf")
    [share] = all_shares(app)
    page = client.get(f"/shares/{share.id}").text
    assert 'name="allowed_types"' in page and 'value="pdf"' in page

    post_form(client, f"/shares/{share.id}/limits", {"allowed_types": "png, pdf"})
    assert all_shares(app)[0].allowed_types == "pdf png"
    post_form(client, f"/shares/{share.id}/limits", {"allowed_types": ""})
    assert all_shares(app)[0].allowed_types is None


@pytest.mark.parametrize("typed", ["p d f!", "tar.gz", "x" * 17])
def test_a_bad_list_is_refused_with_a_message(app, client, as_alice, inbox, typed):
    response = create(client, inbox, kind="upload", allowed_types=typed)

    assert response.status_code == 400
    assert "like “pdf, jpg, docx”" in text(response)
    assert all_shares(app) == []


def test_a_download_link_ignores_the_upload_fields(app, client, as_alice, report):
    response = create(client, report, allowed_types="pdf")

    [share] = all_shares(app)
    assert response.status_code == 302
    assert share.allowed_types is None


@pytest.fixture
def report(alice, upload):
    return upload(alice, "report.pdf", PDF)


# --- owners: the API ---------------------------------------------------------------


def test_the_api_creates_reads_and_changes_allowed_types(
    client, alice, api_headers, inbox
):
    headers = api_headers(alice)
    created = client.post(
        "/api/v1/shares",
        headers=headers,
        json={
            "folder_id": inbox.id,
            "kind": "upload",
            "expires_in": 3600,
            "allowed_types": ["pdf", ".DOCX"],
        },
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    url = f"/api/v1/shares/{created.get_json()['id']}"
    assert created.get_json()["allowed_types"] == ["docx", "pdf"]
    assert client.get(url, headers=headers).get_json()["allowed_types"] == [
        "docx",
        "pdf",
    ]

    changed = client.patch(url, headers=headers, json={"allowed_types": "jpg, png"})
    assert changed.get_json()["allowed_types"] == ["jpg", "png"]
    cleared = client.patch(url, headers=headers, json={"allowed_types": None})
    assert cleared.get_json()["allowed_types"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "upload", "allowed_types": 5}, "must be a list of file extensions"),
        ({"kind": "upload", "allowed_types": ["p df"]}, "letters and digits only"),
        ({"allowed_types": ["pdf"]}, "applies only to upload links"),
    ],
)
def test_the_api_refuses_bad_allowed_types(
    app, client, alice, api_headers, inbox, body, message
):
    response = client.post(
        "/api/v1/shares",
        headers=api_headers(alice),
        json={"folder_id": inbox.id, "expires_in": 3600, **body},
    )

    assert message in error_of(response, 400, "bad_request")["message"]
    assert all_shares(app) == []
