"""Absurd values in every header, query parameter and number we parse: never a 5xx.

A table of (where the value goes) x (kinds of hostile value). Each case says
the one status a kind of value gets there; a value is "huge" (digits far
beyond any size, beyond Python's 4,300-digit int() and PostgreSQL's BIGINT),
"junk" (not a number we accept: negative, float, non-ASCII digits, other
text) or "nul" (a NUL byte, which PostgreSQL refuses in text and HTTP forbids
in a field). Runs on SQLite and, with VAULT_TEST_DATABASE_URL, on PostgreSQL,
where an integer overflow reaching the database would be a 500.
"""

import json
from dataclasses import dataclass, field

import pytest

from tests.helpers import post_form
from tests.test_shares_public import make_link

VALUES = {
    "huge": ["9" * 5000, str(2**63), str(2**64), "1" + "0" * 30],
    "junk": ["-1", "1e999", "NaN", "0x10", "²", "é", "-" + "9" * 5000],
    "wide": ["１２"],
    "nul": ["\x00", "1\x00"],
}
FILE = b"twelve bytes" * 10
TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_STREAM = {**TUS, "Content-Type": "application/offset+octet-stream"}
A_DATE = "Mon, 01 Jan 2024 00:00:00"


@dataclass
class Case:
    """Where a value goes, and the status each kind of value must get there."""

    name: str
    url: str  # formatted with the scene: {file}, {folder}, {link}, {upload}, {me}
    huge: int
    junk: int
    nul: int = 400
    wide: int | None = None  # digits outside ASCII; None: as junk
    method: str = "GET"
    who: str = "owner"  # owner (signed in), api (bearer token), visitor
    header: str | None = None  # the value goes in this header ...
    query: str | None = None  # ... or this query parameter ...
    form: str | None = None  # ... or this form field (with `data`) ...
    json: str | None = None  # ... or this JSON field, as a bare literal if it can be
    template: str = "{}"
    headers: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)


DOWNLOADS = [
    ("owner", "/files/{file}/download"),
    ("visitor", "{link}/files/{file}/download"),
    ("api", "/api/v1/files/{file}/content"),
]

CASES = [
    *[
        case
        for who, url in DOWNLOADS
        for case in [
            # A start past the end cannot be met; an end past it is the end.
            Case(
                "range start",
                url,
                416,
                200,
                who=who,
                header="Range",
                template="bytes={}-",
            ),
            Case(
                "range end",
                url,
                206,
                200,
                who=who,
                header="Range",
                template="bytes=0-{}",
            ),
            Case(
                "range suffix",
                url,
                206,
                200,
                who=who,
                header="Range",
                template="bytes=-{}",
            ),
            Case(
                "range both",
                url,
                416,
                200,
                who=who,
                header="Range",
                template="bytes={}-{}",
            ),
            # A validator that cannot match: the Range is ignored.
            Case(
                "if-range",
                url,
                200,
                200,
                who=who,
                header="If-Range",
                headers={"Range": "bytes=0-0"},
            ),
            Case(
                "if-range zone",
                url,
                200,
                200,
                who=who,
                header="If-Range",
                template=A_DATE + " +{}",
                headers={"Range": "bytes=0-0"},
            ),
            Case(
                "if-range year",
                url,
                200,
                200,
                who=who,
                header="If-Range",
                template="Mon, 01 Jan {} 00:00:00 GMT",
                headers={"Range": "bytes=0-0"},
            ),
            # A date that cannot be read is no condition.
            Case(
                "if-modified-since zone",
                url,
                200,
                200,
                who=who,
                header="If-Modified-Since",
                template=A_DATE + " +{}",
            ),
            Case(
                "if-modified-since year",
                url,
                200,
                200,
                who=who,
                header="If-Modified-Since",
                template="Mon, 01 Jan {} 00:00:00 GMT",
            ),
            Case(
                "if-unmodified-since",
                url,
                200,
                200,
                who=who,
                header="If-Unmodified-Since",
                template=A_DATE + " +{}",
            ),
            Case(
                "if-none-match",
                url,
                200,
                200,
                who=who,
                header="If-None-Match",
                template='"{}"',
            ),
        ]
    ],
    Case(
        "static if-range",
        "/static/css/vault.css",
        200,
        200,
        header="If-Range",
        template=A_DATE + " +{}",
        headers={"Range": "bytes=0-0"},
    ),
    # werkzeug, which serves static files, refuses a Range it cannot read.
    Case(
        "static range",
        "/static/css/vault.css",
        416,
        416,
        header="Range",
        template="bytes={}-",
    ),
    # The file list forgives a bad page, sort or order; admin lists refuse them.
    Case("files page", "/", 200, 200, query="page"),
    Case("files sort", "/folders/{folder}", 200, 200, query="sort"),
    Case("files order", "/folders/{folder}", 200, 200, query="order"),
    Case("search", "/search", 200, 200, query="q"),
    Case("admin page", "/admin", 400, 400, query="page"),
    Case("admin order", "/admin", 400, 400, query="order"),
    Case("admin sort", "/admin", 400, 400, query="sort"),
    Case("admin search", "/admin", 200, 200, query="q"),
    Case("audit action", "/admin/audit", 400, 400, query="action"),
    Case("audit search", "/admin/audit", 200, 200, query="q"),
    Case("audit page", "/admin/audit", 400, 400, query="page"),
    Case("share for node", "/shares/new", 404, 404, query="node_id"),
    Case("next", "/login", 200, 200, who="visitor", query="next"),
    Case("link page", "{link}", 200, 200, who="visitor", query="page"),
    Case("api limit", "/api/v1/files", 400, 400, who="api", query="limit"),
    Case("api cursor", "/api/v1/files", 400, 400, who="api", query="cursor"),
    Case("api admin page", "/api/v1/admin/users", 400, 400, who="api", query="page"),
    Case("api admin sort", "/api/v1/admin/users", 400, 400, who="api", query="sort"),
    Case("api admin search", "/api/v1/admin/users", 200, 200, who="api", query="q"),
    # Headers the API and tus read.
    Case(
        "bearer",
        "/api/v1/me",
        401,
        401,
        who="visitor",
        header="Authorization",
        template="Bearer {}",
    ),
    Case(
        "authorization", "/api/v1/me", 401, 401, who="visitor", header="Authorization"
    ),
    Case(
        "tus version",
        "/api/v1/uploads",
        412,
        412,
        method="POST",
        who="api",
        header="Tus-Resumable",
    ),
    Case(
        "tus length",
        "/api/v1/uploads",
        400,
        400,
        method="POST",
        who="api",
        header="Upload-Length",
        headers={**TUS, "Upload-Metadata": "filename YS50eHQ="},
    ),
    Case(
        "tus metadata",
        "/api/v1/uploads",
        400,
        400,
        method="POST",
        who="api",
        header="Upload-Metadata",
        template="filename {}",
        headers={**TUS, "Upload-Length": "1"},
    ),
    Case(
        "tus offset",
        "{upload}",
        400,
        400,
        method="PATCH",
        who="api",
        header="Upload-Offset",
        headers=OFFSET_STREAM,
    ),
    Case(
        "tus checksum",
        "{upload}",
        400,
        400,
        method="PATCH",
        who="api",
        header="Upload-Checksum",
        template="sha1 {}",
        headers={**OFFSET_STREAM, "Upload-Offset": "0"},
    ),
    Case(
        "tus override",
        "{upload}",
        400,
        400,
        method="POST",
        who="api",
        header="X-HTTP-Method-Override",
        headers=TUS,
    ),
    # Behind a proxy (TRUSTED_PROXIES is 1 here).
    Case(
        "forwarded for",
        "{link}/files/{file}/download",
        200,
        200,
        who="visitor",
        header="X-Forwarded-For",
    ),
    Case(
        "user agent",
        "{link}/files/{file}/download",
        200,
        200,
        who="visitor",
        header="User-Agent",
    ),
    Case("accept", "{link}", 200, 200, who="visitor", header="Accept"),
    # Numbers in forms and JSON bodies that end in an INTEGER or BIGINT column.
    # Forms take digits of any script, as Python does: "１２" is twelve.
    Case(
        "quota form",
        "/admin/users/{me}/quota",
        400,
        400,
        method="POST",
        form="quota",
        wide=302,
    ),
    Case(
        "share limit form",
        "/shares/new?node_id={folder}",
        400,
        400,
        method="POST",
        form="max_downloads",
        wide=302,
        data={"kind": "download"},
    ),
    Case(
        "share size form",
        "/shares/new?node_id={folder}",
        400,
        400,
        method="POST",
        form="max_file_size",
        wide=302,
        data={"kind": "upload"},
    ),
    Case(
        "share files form",
        "/shares/new?node_id={folder}",
        400,
        400,
        method="POST",
        form="max_files",
        wide=302,
        data={"kind": "upload"},
    ),
    Case(
        "share expiry form",
        "/shares/new?node_id={folder}",
        400,
        400,
        method="POST",
        form="expires_on",
        data={"expires": "custom"},
    ),
    Case(
        "api quota",
        "/api/v1/admin/users/{me}",
        400,
        400,
        method="PATCH",
        who="api",
        json="quota_bytes",
    ),
    Case(
        "api share limit",
        "/api/v1/shares",
        400,
        400,
        method="POST",
        who="api",
        json="max_downloads",
        data={"folder_id": "{folder}"},
    ),
    Case(
        "api share size",
        "/api/v1/shares",
        400,
        400,
        method="POST",
        who="api",
        json="max_file_size",
        data={"folder_id": "{folder}", "kind": "upload"},
    ),
    Case(
        "api share expiry",
        "/api/v1/shares",
        400,
        400,
        method="POST",
        who="api",
        json="expires_in",
        data={"folder_id": "{folder}"},
    ),
]


@pytest.fixture
def app_config(app_config):
    app_config["TRUSTED_PROXIES"] = 1
    return app_config


@pytest.fixture
def scene(app, as_alice, alice, upload, make_folder, api_headers, client):
    """Alice's file, folder, a link to the folder and a tus upload under way."""
    folder = make_folder(alice, "Shared")
    file = upload(alice, "notes.txt", FILE, folder_id=folder.id)
    link = make_link(app, alice, folder)
    api = api_headers(alice)
    created = client.post(
        "/api/v1/uploads",
        headers={
            **api,
            **TUS,
            "Upload-Length": "5",
            "Upload-Metadata": "filename YS50eHQ=",
        },
    )
    places = {
        "file": file.id,
        "folder": folder.id,
        "link": link.url,
        "upload": created.headers["Location"].removeprefix("http://localhost"),
        "me": alice.id,
    }
    return places, api


def _request(app, client, api, places, case: Case, value: str):
    url = case.url.format(**places)
    headers = dict(case.headers)
    options = {}
    filled = case.template.replace("{}", value)
    if case.header:
        headers[case.header] = filled
    if case.query:
        options["query_string"] = {case.query: filled}
    data = {key: text.format(**places) for key, text in case.data.items()}
    if case.who == "api":
        headers.update(api)
    if case.json:
        literal = value if value.lstrip("-").isascii() else json.dumps(value)
        body = json.dumps(data)[:-1] + (", " if data else "")
        options["data"] = body + f'"{case.json}": {literal}}}'
        headers["Content-Type"] = "application/json"
    elif case.url == "{upload}":
        options["data"] = b"x"
    if case.form:
        return post_form(client, url, {**data, case.form: filled}, headers=headers)
    browser = client if case.who == "owner" else app.test_client()
    return browser.open(url, method=case.method, headers=headers, **options)


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.who}-{case.name}")
def test_hostile_values_get_one_clear_status(app, client, scene, case):
    places, api = scene
    wrong = []
    for kind, values in VALUES.items():
        for value in values:
            try:
                response = _request(app, client, api, places, case, value)
                status = response.status_code
                response.close()
            except Exception as error:  # the test client re-raises what the app did
                status = f"{type(error).__name__}: {str(error)[:80]}"
            expected = getattr(case, kind)
            if kind == "wide" and expected is None:
                expected = case.junk
            if status != expected:
                wrong.append(f"{kind} {value[:12]!r}: {status}")
    assert not wrong, f"expected huge {case.huge}, junk {case.junk}, nul {case.nul}"


@pytest.mark.parametrize("header", ["Host", "X-Forwarded-Host"])
@pytest.mark.parametrize("url", ["/login", "/s/some-token", "/api/v1/me"])
def test_a_host_we_cannot_use_is_a_plain_400(client, alice, header, url):
    response = client.get(url, headers={header: "9" * 5000})

    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert "Host" in response.get_data(as_text=True)
