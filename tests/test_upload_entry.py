"""The one entry point of uploads: a mistake in its order fails loudly.

An upload route streams file parts into the receiver `upload_entry` puts on
the request. A body parsed before that (by a hook, or by a route that reads
raw bodies) would drop its files and answer as if it had stored them; it must
be an error instead. Routes that take no uploads still drop file parts.
"""

import io
import logging

import pytest
from flask import request
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.conftest import PASSWORD, csrf_token_from
from tests.helpers import assert_nothing_stored, live_nodes
from vault.http_uploads import UploadReceiverMissing, upload_entry

pytestmark = pytest.mark.bytes


def multipart(**fields):
    """A multipart body with a file part `files` (or the fields given)."""
    data = MultiDict(fields)
    if "files" not in data and "file" not in data:
        data.add("file", FileStorage(io.BytesIO(b"precious"), filename="a.txt"))
    boundary, body = encode_multipart(data)
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def read_the_form_first(app):
    # The mistake the global CSRF check would make on an upload route that
    # were not exempt from it: parsing the body before the view runs.
    @app.before_request
    def peek():
        if request.endpoint == "api.upload_files":
            request.form.get("folder_id")


def test_a_body_parsed_before_the_receiver_is_an_error(app, client, alice, api_headers):
    read_the_form_first(app)

    with pytest.raises(UploadReceiverMissing, match="api.upload_files"):
        client.post("/api/v1/files", headers=api_headers(alice), **multipart())

    assert_nothing_stored(app)


def test_the_error_is_answered_500_and_logged(app, client, alice, api_headers, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    read_the_form_first(app)

    with caplog.at_level(logging.ERROR):
        response = client.post(
            "/api/v1/files", headers=api_headers(alice), **multipart()
        )

    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    [logged] = [record for record in caplog.records if record.exc_info]
    assert logged.exc_info[0] is UploadReceiverMissing
    assert_nothing_stored(app)


def test_a_raw_body_route_that_parses_a_form_is_an_error(app, client, alice):
    @upload_entry()
    def takes_raw_bodies():
        return {"files": len(request.files)}

    app.add_url_rule("/raw", view_func=takes_raw_bodies, methods=["POST"])

    with pytest.raises(UploadReceiverMissing):
        client.post("/raw", **multipart())


def test_a_route_that_takes_no_uploads_drops_file_parts(app, client, alice):
    def takes_no_uploads():
        return {"names": [part.filename for part in request.files.values()]}

    app.add_url_rule("/plain", view_func=takes_no_uploads, methods=["POST"])
    app.config["WTF_CSRF_ENABLED"] = False

    response = client.post("/plain", **multipart())

    assert response.get_json() == {"names": ["a.txt"]}
    assert_nothing_stored(app)


@pytest.mark.parametrize(
    "receiver_for, csrf", [(lambda: None, "none"), (None, "site form")]
)
def test_a_csrf_check_that_cannot_work_is_refused_where_the_route_is_written(
    receiver_for, csrf
):
    with pytest.raises(ValueError, match="CSRF"):
        upload_entry(receiver_for, csrf=csrf)


def test_the_upload_form_over_https_wants_a_referer_like_every_form(app, client, alice):
    # Share pages send no Referer, so their upload form checks the token only
    # (tests/test_shares_public_uploads.py); our own pages do send one.
    site = "https://vault.example"
    secure = {"base_url": site, "headers": {"Referer": f"{site}/"}}
    token = csrf_token_from(client.get("/login", **secure).text)
    credentials = {"email": alice.email, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=credentials, **secure).status_code == 302
    token = csrf_token_from(client.get("/", **secure).text)
    files = FileStorage(io.BytesIO(b"hello"), filename="notes.txt")
    body = multipart(csrf_token=token, files=files)

    refused = client.post("/upload", **body, base_url=site)
    accepted = client.post("/upload", **body, **secure)

    assert refused.status_code == 400
    assert accepted.status_code == 302
    assert [file.name for file in live_nodes(app)] == ["notes.txt"]
