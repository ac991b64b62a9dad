"""Each front end shows errors its own way, also for URLs none of its routes match."""

import pytest
from flask import Blueprint, current_app

from tests.helpers import error_of
from vault import front_ends
from vault.errors import Conflict


def xml_error(status, code, message):
    body = f"<error><code>{code}</code></error>"
    return current_app.response_class(body, status=status, mimetype="text/xml")


@pytest.fixture
def dav(app):
    """A front end added the way WebDAV would be: its blueprint and renderer."""
    blueprint = Blueprint("dav", __name__, url_prefix="/dav")

    @blueprint.route("/<path:name>", methods=["PROPFIND"])
    def propfind(name):
        raise Conflict()

    front_ends.register(blueprint, xml_error, path="/dav")
    app.register_blueprint(blueprint)
    return app.test_client()


def test_a_new_front_end_renders_its_own_errors(dav):
    raised = dav.open("/dav/notes.txt", method="PROPFIND")
    unmatched = dav.get("/dav/notes.txt")
    assert (raised.status_code, raised.mimetype) == (409, "text/xml")
    assert b"<code>conflict</code>" in raised.data
    assert (unmatched.status_code, unmatched.mimetype) == (405, "text/xml")
    assert "PROPFIND" in unmatched.headers["Allow"]


def test_a_path_claims_only_whole_segments(dav, alice):
    assert dav.get("/davx").mimetype == "text/html"


@pytest.mark.parametrize("path", ["/api/v2/files", "/api/v1/nothing/here"])
def test_the_api_answers_json_for_urls_it_does_not_know(client, alice, path):
    error_of(client.get(path), 404, "not_found")


def test_tus_answers_in_its_own_form_where_no_route_matched(client, alice):
    response = client.get("/api/v1/uploads/one/two")
    error_of(response, 404, "not_found")
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert "Tus-Resumable" not in client.get("/api/v1/files/nothing").headers


def test_an_unknown_page_under_a_share_link_is_a_private_html_page(client, alice):
    response = client.get("/s/token/no/such/page")
    assert (response.status_code, response.mimetype) == (404, "text/html")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "private, no-store"
