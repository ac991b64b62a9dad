"""Browser routes for files: list, upload, download, view and delete."""

import io
import re
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import update
from werkzeug.datastructures import FileStorage
from werkzeug.http import parse_options_header
from werkzeug.test import encode_multipart

from tests.conftest import csrf_token_from
from tests.factories import JPEG, PDF, PNG
from tests.helpers import (
    blobs,
    listed_names,
    live_nodes,
    node,
    nodes,
    post_form,
    used_bytes,
)
from vault.extensions import db
from vault.models import Node

pytestmark = pytest.mark.bytes

HEX32 = re.compile(r"[0-9a-f]{32}")
MISSING_ID = "0" * 32
SANDBOX = "sandbox; frame-ancestors 'self'"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def page_token(client, path="/"):
    return csrf_token_from(client.get(path).get_data(as_text=True))


def post_upload(client, *files, csrf=True):
    data = {"files": [(io.BytesIO(content), name) for name, content in files]}
    if csrf:
        data["csrf_token"] = page_token(client)
    return client.post("/upload", data=data, content_type="multipart/form-data")


def assert_nothing_stored(app):
    assert nodes(app) == []
    # Also catches ".partial-" temp files left behind by an aborted write.
    assert blobs(app) == {}


def set_uploaded_at(app, file, when):
    with app.app_context():
        db.session.execute(
            update(Node).where(Node.id == file.id).values(created_at=when)
        )
        db.session.commit()


def oversized_multipart(token, size):
    boundary, body = encode_multipart(
        {
            "csrf_token": token,
            "files": FileStorage(io.BytesIO(b"x" * size), "big.txt"),
        }
    )
    return f"multipart/form-data; boundary={boundary}", body


# --- listing -----------------------------------------------------------------


def test_folder_page_lists_items_by_name_with_size_and_modified_date(
    client, as_alice, upload, make_folder
):
    upload(as_alice, "b-old.txt", b"a" * 1500, now=datetime(2024, 1, 2, 3, 4))
    upload(as_alice, "C-new.png", PNG, now=datetime(2024, 9, 10, 11, 12))
    upload(as_alice, "a-middle.pdf", PDF, now=datetime(2024, 5, 6, 7, 8))
    make_folder(as_alice, "Zebra folder")

    page = client.get("/").get_data(as_text=True)

    assert listed_names(page) == [
        "Zebra folder",
        "a-middle.pdf",
        "b-old.txt",
        "C-new.png",
    ]
    head = re.search(r"<thead>(.*?)</thead>", page, re.S).group(1)
    columns = [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)
    ]
    assert [column.split()[0] for column in columns if column][:3] == [
        "Name",
        "Size",
        "Modified",
    ]
    assert "Type" not in columns
    for expected in (
        "1.5 kB",
        "2024-01-02 03:04",
        "2024-05-06 07:08",
        "2024-09-10 11:12",
    ):
        assert expected in page


def test_index_shows_total_used(client, as_alice, upload):
    upload(as_alice, "a.txt", b"abc")
    upload(as_alice, "b.txt", b"defg")

    assert "7 bytes used" in client.get("/").get_data(as_text=True)


def test_index_offers_preview_only_for_safe_types(client, as_alice, alice, upload):
    image = upload(alice, "photo.png", PNG)
    archive = upload(alice, "bundle.zip", b"PK\x03\x04")
    page = client.get("/").get_data(as_text=True)
    assert f"/files/{image.id}/preview" in page
    assert f"/files/{archive.id}/preview" not in page
    assert f"/files/{archive.id}/download" in page


def test_pages_with_private_data_are_not_cached(client, as_alice):
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_index_shows_only_my_files(client, auth, alice, bob, upload):
    upload(alice, "alice-secret.txt")
    upload(bob, "bob-notes.txt")
    auth.login("bob@example.com")

    page = client.get("/").get_data(as_text=True)

    assert "bob-notes.txt" in page
    assert "alice-secret.txt" not in page


# --- upload: happy path --------------------------------------------------------


def test_upload_one_file(client, app, as_alice):
    response = post_upload(client, ("notes.txt", b"hello vault\n"))

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/"
    [file] = nodes(app)
    assert (file.name, file.size, file.content_type) == ("notes.txt", 12, "text/plain")
    page = client.get("/").get_data(as_text=True)
    assert "Uploaded 1 file." in page
    assert "notes.txt" in page
    assert "12 bytes used" in page


def test_upload_several_files_at_once(client, app, as_alice):
    response = post_upload(client, ("a.txt", b"abc"), ("b.png", PNG), ("c.pdf", PDF))

    assert response.status_code == 302
    files = {file.name: file.size for file in nodes(app)}
    assert files == {"a.txt": 3, "b.png": len(PNG), "c.pdf": len(PDF)}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Uploaded 3 files." in page
    assert f"{3 + len(PNG) + len(PDF)} bytes used" in page


def test_upload_stores_bytes_under_users_dir_with_random_name(client, app, as_alice):
    post_upload(client, ("report.txt", b"quarterly numbers"))

    [file] = nodes(app)
    [(path, content)] = blobs(app).items()
    directory, name = path.split("/")
    assert directory == as_alice.id
    assert HEX32.fullmatch(name)
    assert content == b"quarterly numbers"
    assert file.storage_key == path
    assert "report" not in path


# --- upload: bad input ---------------------------------------------------------


def test_upload_without_a_file_is_refused(client, app, as_alice):
    response = post_upload(client)

    assert response.status_code == 400
    assert "Choose at least one file." in response.get_data(as_text=True)
    assert_nothing_stored(app)


def test_upload_with_empty_file_field_is_refused(client, app, as_alice):
    # What a browser sends when the form is submitted with no file chosen.
    response = post_upload(client, ("", b""))

    assert response.status_code == 400
    assert "Choose at least one file." in response.get_data(as_text=True)
    assert_nothing_stored(app)


@pytest.mark.parametrize(
    ("files", "status", "message"),
    [
        (
            [("cat.png", b"not really a png")],
            415,
            "“cat.png” was refused: its content is not a valid PNG file.",
        ),
        (
            [("cat.jpg", PNG)],
            415,
            "“cat.jpg” was refused: its content is not a valid JPG file.",
        ),
        (
            [("paper.pdf", b"<html>not a pdf</html>")],
            415,
            "“paper.pdf” was refused: its content is not a valid PDF file.",
        ),
        (
            [("ok.txt", b"fine"), ("good.png", PNG), ("bad.png", JPEG)],
            415,
            "“bad.png” was refused: its content is not a valid PNG file.",
        ),
        (
            [("\x01\x02\x03", b"x")],
            400,
            "A name cannot be empty.",
        ),
    ],
    ids=[
        "png-that-is-not-png",
        "jpg-that-is-png",
        "pdf-that-is-not-pdf",
        "batch-with-disguised-image",
        "name-only-control-characters",
    ],
)
def test_bad_upload_is_refused_and_nothing_is_stored(
    client, app, as_alice, files, status, message
):
    response = post_upload(client, *files)

    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert_nothing_stored(app)
    assert used_bytes(app, as_alice) == 0


def test_upload_without_csrf_token_is_refused(client, app, as_alice):
    response = post_upload(client, ("notes.txt", b"hello"), csrf=False)

    # The page every form of the site answers a missing token with.
    assert response.status_code == 400
    assert "security token is missing" in response.get_data(as_text=True)
    assert_nothing_stored(app)


def test_upload_over_the_size_cap_is_refused(client, app, as_alice):
    content_type, body = oversized_multipart(page_token(client), 9 * 1024 * 1024)

    response = client.post("/upload", data=body, content_type=content_type)

    assert response.status_code == 413
    assert "larger than the 8.4 MB limit" in response.get_data(as_text=True)
    assert_nothing_stored(app)


def test_streamed_upload_over_the_size_cap_leaves_no_partial_file(
    client, app, as_alice
):
    # Without a Content-Length the cap is only hit mid-stream, after the part
    # has started writing to disk.
    content_type, body = oversized_multipart(page_token(client), 9 * 1024 * 1024)

    response = client.post(
        "/upload",
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "Content-Type": content_type},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code == 413
    assert "larger than the 8.4 MB limit" in response.get_data(as_text=True)
    assert_nothing_stored(app)


# --- upload: names -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../x.txt", "....x.txt"),
        ("..\\..\\x.txt", "....x.txt"),
        ("a\x00b.txt", "ab.txt"),
        ("a\x01\x1b\x7fb.txt", "ab.txt"),
        ("invoice\u202efdp.txt", "invoicefdp.txt"),
        ("Re\u0301sume\u0301 履歴書.pdf", "Résumé 履歴書.pdf"),
        ("a" * 296 + ".txt", "a" * 251 + ".txt"),
    ],
    ids=["traversal", "backslashes", "nul", "control", "bidi", "non-ascii", "long"],
)
def test_upload_cleans_display_name(client, app, as_alice, sent, kept):
    content = PDF if sent.endswith(".pdf") else b"text"

    response = post_upload(client, (sent, content))

    assert response.status_code == 302
    [file] = nodes(app)
    assert file.name == kept
    assert len(file.name.encode()) <= 255
    [path] = blobs(app)
    assert path == file.storage_key
    assert path.startswith(f"{as_alice.id}/")


def test_traversal_name_never_leaves_users_dir(client, app, as_alice, tmp_path):
    post_upload(client, ("../../../escape.txt", b"stay here"))

    assert not list(tmp_path.rglob("*.txt"))
    [(path, content)] = blobs(app).items()
    assert path.startswith(f"{as_alice.id}/")
    assert content == b"stay here"


# --- download ------------------------------------------------------------------


def test_download_sends_bytes_as_attachment(client, as_alice, upload):
    file = upload(as_alice, "photo.png", PNG)

    response = client.get(f"/files/{file.id}/download")

    assert response.status_code == 200
    assert response.data == PNG
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == SANDBOX
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("Résumé 履歴書.pdf", "R%C3%A9sum%C3%A9%20%E5%B1%A5%E6%AD%B4%E6%9B%B8.pdf"),
        ('say "hi"; x.txt', "say%20%22hi%22%3B%20x.txt"),
    ],
    ids=["non-ascii", "quotes-and-semicolon"],
)
def test_download_names_file_per_rfc_6266(client, as_alice, upload, name, encoded):
    file = upload(as_alice, name, PDF if name.endswith(".pdf") else b"hi")

    header = client.get(f"/files/{file.id}/download").headers["Content-Disposition"]

    assert f"filename*=UTF-8''{encoded}" in header
    fallback = re.search(r'filename="([^"]*)"', header).group(1)
    assert fallback.isascii()
    assert fallback.endswith(name[-4:])
    assert parse_options_header(header) == ("attachment", {"filename": name})


def test_download_range_gives_partial_content(client, as_alice, upload):
    file = upload(as_alice, "notes.txt", b"hello vault\n")

    response = client.get(f"/files/{file.id}/download", headers={"Range": "bytes=6-10"})

    assert response.status_code == 206
    assert response.data == b"vault"
    assert response.headers["Content-Range"] == "bytes 6-10/12"
    assert response.headers["Content-Length"] == "5"


def test_download_unsatisfiable_range_gives_416(client, as_alice, upload):
    file = upload(as_alice, "notes.txt", b"hello vault\n")

    response = client.get(
        f"/files/{file.id}/download", headers={"Range": "bytes=100-200"}
    )

    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */12"


def test_download_etag_allows_not_modified(client, as_alice, upload):
    file = upload(as_alice)
    url = f"/files/{file.id}/download"
    etag = client.get(url).headers["ETag"]

    unchanged = client.get(url, headers={"If-None-Match": etag})
    other = client.get(url, headers={"If-None-Match": '"something-else"'})

    assert unchanged.status_code == 304
    assert unchanged.data == b""
    assert other.status_code == 200


def test_download_last_modified_allows_not_modified(client, app, as_alice, upload):
    file = upload(as_alice)
    set_uploaded_at(app, file, datetime(2024, 3, 4, 5, 6, 7))
    url = f"/files/{file.id}/download"
    last_modified = client.get(url).headers["Last-Modified"]

    unchanged = client.get(url, headers={"If-Modified-Since": last_modified})
    older = client.get(
        url, headers={"If-Modified-Since": "Sun, 03 Mar 2024 00:00:00 GMT"}
    )

    assert last_modified == "Mon, 04 Mar 2024 05:06:07 GMT"
    assert unchanged.status_code == 304
    assert older.status_code == 200


# --- view (inline preview) -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("photo.png", PNG, "image/png"),
        ("photo.jpg", JPEG, "image/jpeg"),
        ("paper.pdf", PDF, "application/pdf"),
        ("notes.txt", b"just text", "text/plain; charset=utf-8"),
        ("page.html", b"<script>alert(1)</script>", "text/plain; charset=utf-8"),
        ("app.js", b"alert(1)", "text/plain; charset=utf-8"),
        ("song.mp3", b"ID3\x04\x00" + b"\x00" * 32, "audio/mpeg"),
        ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 32, "video/mp4"),
    ],
    ids=["png", "jpeg", "pdf", "txt", "html", "js", "mp3", "mp4"],
)
def test_view_previews_safe_types_inline(
    client, as_alice, upload, name, content, content_type
):
    file = upload(as_alice, name, content)

    response = client.get(f"/files/{file.id}/view")

    assert response.status_code == 200
    assert response.data == content
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert response.headers["Content-Security-Policy"] == SANDBOX
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("drawing.svg", SVG),
        ("archive.zip", b"PK\x03\x04"),
        ("page.xhtml", b"<html><script>alert(1)</script></html>"),
        ("setup.exe", b"MZ\x90\x00"),
        ("Makefile", b"<script>alert(1)</script>"),
        (".bashrc", b"<html><script>alert(1)</script>"),
    ],
    ids=["svg", "zip", "xhtml", "exe", "no-extension", "dotfile"],
)
def test_view_never_shows_scriptable_or_unknown_types_inline(
    client, as_alice, upload, name, content
):
    file = upload(as_alice, name, content)

    response = client.get(f"/files/{file.id}/view")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Security-Policy"] == SANDBOX
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- delete: to the trash, then for good ---------------------------------------


def test_delete_moves_file_to_the_trash_keeping_its_bytes(
    client, app, as_alice, upload
):
    file = upload(as_alice, "gone.txt", b"12345")
    keep = upload(as_alice, "kept.txt", b"67")

    response = post_form(client, "/items/trash", {"id": file.id})

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/"
    assert [f.id for f in live_nodes(app)] == [keep.id]
    assert node(app, file.id).trashed_at is not None
    assert blobs(app) == {file.storage_key: b"12345", keep.storage_key: b"67"}
    assert used_bytes(app, as_alice) == 7
    page = client.get("/").get_data(as_text=True)
    assert "Moved 1 item to the trash." in page
    assert listed_names(page) == ["kept.txt"]
    assert "gone.txt" in client.get("/trash/").get_data(as_text=True)


def test_deleting_several_from_a_folder_returns_to_that_folder(
    client, app, as_alice, upload, make_folder
):
    folder = make_folder(as_alice, "Work")
    first = upload(as_alice, "a.txt", folder_id=folder.id)
    second = upload(as_alice, "b.txt", folder_id=folder.id)

    response = post_form(
        client,
        "/items/trash",
        {"ids": [first.id, second.id], "folder_id": folder.id},
    )

    assert urlsplit(response.headers["Location"]).path == f"/folders/{folder.id}"
    assert [f.name for f in live_nodes(app)] == ["Work"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Moved 2 items to the trash." in page


def test_delete_without_csrf_token_keeps_file(client, app, as_alice, upload):
    file = upload(as_alice, "notes.txt", b"hello")

    response = client.post("/items/trash", data={"id": file.id})

    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert [f.id for f in live_nodes(app)] == [file.id]
    assert blobs(app) == {file.storage_key: b"hello"}


def test_delete_for_good_asks_for_confirmation(
    client, app, as_alice, upload, trash_item
):
    file = trash_item(as_alice, upload(as_alice, "keep-or-not.txt"))

    response = client.get(f"/trash/{file.id}/delete")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "keep-or-not.txt" in page
    assert re.search(r'<form method="post"', page)
    assert csrf_token_from(page)
    assert [f.id for f in nodes(app)] == [file.id]


def test_delete_for_good_removes_row_and_blob_and_frees_space(
    client, app, as_alice, upload, trash_item
):
    file = trash_item(as_alice, upload(as_alice, "gone.txt", b"12345"))
    keep = upload(as_alice, "kept.txt", b"67")

    response = post_form(client, f"/trash/{file.id}/delete")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/trash/"
    assert [f.id for f in nodes(app)] == [keep.id]
    assert list(blobs(app)) == [keep.storage_key]
    assert used_bytes(app, as_alice) == 2
    page = client.get("/trash/").get_data(as_text=True)
    assert "“gone.txt” was deleted for good." in page
    assert "2 bytes used" in page


def test_old_delete_url_is_gone(client, app, as_alice, upload):
    file = upload(as_alice, "notes.txt", b"hello")

    response = post_form(client, f"/files/{file.id}/delete")

    assert response.status_code in (404, 405)
    assert [f.id for f in live_nodes(app)] == [file.id]


# --- ownership and sign-in -----------------------------------------------------

# (method, path, form data, what the missing-id message names)
FILE_ROUTES = [
    ("GET", "/files/{}/download", None, "file"),
    ("GET", "/files/{}/view", None, "file"),
    ("GET", "/files/{}/preview", None, "file"),
    ("GET", "/files/{}/thumbnail", None, "file"),
    ("GET", "/items/{}/rename", None, "item"),
    ("POST", "/items/{}/rename", {"name": "mine.txt"}, "item"),
    ("GET", "/move?ids={}", None, "item"),
    ("POST", "/items/trash", {"id": "{}"}, "item"),
]


def form_for(data, file_id):
    return {key: value.format(file_id) for key, value in (data or {}).items()}


def without_csrf(page: str) -> str:
    """The page with its CSRF tokens blanked: they are signed with the time."""
    page = re.sub(r'(name="csrf-token" content=)"[^"]*"', r"\1", page)
    return re.sub(r'(name="csrf_token" value=)"[^"]*"', r"\1", page)


@pytest.mark.parametrize(("method", "path", "data", "what"), FILE_ROUTES)
def test_someone_elses_file_is_not_found_like_a_missing_one(
    client, app, auth, alice, bob, upload, method, path, data, what
):
    file = upload(alice, "alice.txt", b"private")
    auth.login("bob@example.com")
    token = {"csrf_token": page_token(client)} if method == "POST" else {}

    theirs = client.open(
        path.format(file.id), method=method, data={**form_for(data, file.id), **token}
    )
    missing = client.open(
        path.format(MISSING_ID),
        method=method,
        data={**form_for(data, MISSING_ID), **token},
    )

    assert theirs.status_code == 404
    assert missing.status_code == 404
    # The page's CSRF token is signed with the time: it may differ by a second.
    assert without_csrf(theirs.text) == without_csrf(missing.text)
    assert b"private" not in theirs.data
    assert [(f.id, f.name) for f in live_nodes(app)] == [(file.id, "alice.txt")]
    assert blobs(app) == {file.storage_key: b"private"}
    assert used_bytes(app, alice) == len(b"private")


@pytest.mark.parametrize(("method", "path", "data", "what"), FILE_ROUTES)
def test_missing_file_is_not_found_for_its_would_be_owner(
    client, as_alice, method, path, data, what
):
    if method == "POST":
        data = {**form_for(data, MISSING_ID), "csrf_token": page_token(client)}

    response = client.open(path.format(MISSING_ID), method=method, data=data)

    assert response.status_code == 404
    assert f"No such {what}." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [("GET", "/", None), ("POST", "/upload", None)]
    + [(method, path, data) for method, path, data, _ in FILE_ROUTES],
)
def test_anonymous_is_sent_to_login(
    client, app, auth, alice, upload, method, path, data
):
    file = upload(alice, "alice.txt", b"private")
    if method == "POST":
        data = {**form_for(data, file.id), "csrf_token": auth.csrf_token()}

    response = client.open(path.format(file.id), method=method, data=data)

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert [(f.id, f.name) for f in live_nodes(app)] == [(file.id, "alice.txt")]
    assert blobs(app) == {file.storage_key: b"private"}
