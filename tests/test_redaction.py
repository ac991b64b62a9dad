"""What the logs may show of a URL, a header or a message; and request ids."""

import logging

import pytest

from vault.observe import request_id_for
from vault.redaction import (
    RedactingFilter,
    redact_header,
    redact_query,
    redact_target,
    redact_text,
    short_hash,
)

TOKEN = "Zk3Jx0_qLw-8sN2mYtR4vB6cD1eF5gH7iJ9kL0mN2oP"
HASHED = short_hash(TOKEN)


def test_a_short_hash_is_the_start_of_the_stored_token_hash():
    from vault.security import hash_token

    assert HASHED == "~" + hash_token(TOKEN)[:12]


@pytest.mark.parametrize(
    "target, logged",
    [
        (f"/s/{TOKEN}", f"/s/{HASHED}"),
        (f"/s/{TOKEN}/files/abc/download", f"/s/{HASHED}/files/abc/download"),
        (f"/%73/{TOKEN}/download", f"/s/{HASHED}/download"),
        (f"//s//{TOKEN}", f"//s//{HASHED}"),
        (f"/S/{TOKEN}", f"/S/{HASHED}"),
        (f"/reset/{TOKEN}", f"/reset/{HASHED}"),
        (f"/api/v1/uploads/{TOKEN}", f"/api/v1/uploads/{HASHED}"),
        (f"http://vault.example/s/{TOKEN}?a=1", f"http://vault.example/s/{HASHED}?a=1"),
        ("/api/v1/uploads", "/api/v1/uploads"),
        ("/files/abc?q=report", "/files/abc?q=report"),
    ],
)
def test_secret_paths_are_hashed(target, logged):
    assert redact_target(target) == logged
    assert redact_target(logged) == logged  # twice changes nothing


@pytest.mark.parametrize(
    "query, logged",
    [
        ("token=abc&page=2", "token=[redacted]&page=2"),
        (
            "X-Amz-Signature=ff00&X-Amz-Credential=k",
            ("X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]"),
        ),
        (f"next=%2Fs%2F{TOKEN}", f"next=/s/{HASHED}"),
        ("q=holiday+photos", "q=holiday+photos"),
    ],
)
def test_secret_query_values_are_cut_out(query, logged):
    assert redact_query(query) == logged


def test_credentials_never_appear_in_a_header_or_text():
    assert redact_header("Authorization", "Bearer vault_abc") == "[redacted]"
    assert redact_header("Cookie", "session=abc") == "[redacted]"
    assert redact_header("User-Agent", "curl/8") == "curl/8"
    text = redact_text(
        f"sent Bearer xyz123 and vault_{TOKEN} to /s/{TOKEN}?password=pw1"
    )
    assert text == (
        f"sent Bearer [redacted] and vault_[redacted] to /s/{HASHED}"
        "?password=[redacted]"
    )


def test_the_filter_cleans_messages_and_tracebacks():
    try:
        raise ValueError(f"bad link /s/{TOKEN}")
    except ValueError:
        record = logging.LogRecord(
            "vault",
            logging.ERROR,
            __file__,
            1,
            "Exception on %s [GET]",
            (f"/s/{TOKEN}/download",),
            exc_info=True,
        )
        import sys

        record.exc_info = sys.exc_info()

    assert RedactingFilter().filter(record)
    line = logging.Formatter().format(record)
    assert TOKEN not in line
    assert f"Exception on /s/{HASHED}/download [GET]" in line
    assert f"bad link /s/{HASHED}" in line


@pytest.mark.parametrize(
    "incoming", ["lb-42", "3f2a0c1e-7b1d-4c9e-9a0b-2f3e4d5c6b7a", "Root=1-abc+d/e:f"]
)
def test_a_sane_incoming_request_id_is_kept(client, incoming):
    assert request_id_for({"HTTP_X_REQUEST_ID": incoming}) == incoming
    response = client.get("/healthz", headers={"X-Request-Id": incoming})
    assert response.headers["X-Request-Id"] == incoming


@pytest.mark.parametrize(
    "incoming", ["", "has space", "x" * 129, 'quote"d', "new\\nline", "é"]
)
def test_any_other_request_id_is_replaced(client, incoming):
    made = request_id_for({"HTTP_X_REQUEST_ID": incoming})
    assert made != incoming and len(made) == 32
    int(made, 16)
    response = client.get(
        "/login", headers={"X-Request-Id": incoming} if incoming else {}
    )
    assert response.headers["X-Request-Id"] != incoming
    assert response.headers.getlist("X-Request-Id") == [
        response.headers["X-Request-Id"]
    ]
