"""Quotas hold while the bytes arrive: refused early, cut off exactly, never lost."""

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.helpers import (
    BOUNDARY,
    MultipartBody,
    assert_nothing_stored,
    error_of,
    post_body,
    set_quota,
    used_bytes,
)
from vault.errors import QuotaExceeded
from vault.extensions import db
from vault.models import Reservation, User, utcnow
from vault.services import files, quotas, uploads
from vault.storage import get_storage

pytestmark = pytest.mark.bytes

MiB = 1024 * 1024


@pytest.fixture
def app_config(app_config):
    app_config["MAX_UPLOAD_BYTES"] = 256 * MiB
    return app_config


def held(app, user) -> tuple[int, int]:
    """Return the user's reserved_bytes and the number of reservation rows."""
    with app.app_context():
        reserved = db.session.get(User, user.id).reserved_bytes
        rows = db.session.scalar(select(func.count()).select_from(Reservation))
        return reserved, rows


def post_chunked(client, headers, body):
    """POST a body without a Content-Length, as a chunked request would come."""
    return client.post(
        "/api/v1/files",
        input_stream=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers=headers,
        environ_overrides={
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input_terminated": True,
        },
    )


def test_an_upload_that_cannot_fit_is_refused_before_its_body_is_read(
    app, client, alice, api_headers
):
    set_quota(app, alice, 1_000_000)
    body = MultipartBody("big.zip", 5_200_000)

    response = post_body(client, api_headers(alice), body)

    error = error_of(response, 507, "quota_exceeded")
    assert error["message"] == (
        "This upload needs 5.2 MB but you have 1.0 MB free of 1.0 MB."
    )
    assert body.position == 0
    assert_nothing_stored(app)


def test_the_stream_is_cut_off_at_the_first_byte_that_does_not_fit(
    app, client, alice, api_headers
):
    set_quota(app, alice, 4 * MiB)
    body = MultipartBody("big.zip", 64 * MiB)

    response = post_chunked(client, api_headers(alice), body)

    error = error_of(response, 507, "quota_exceeded")
    assert error["message"] == (
        "This upload is larger than the 4.2 MB you have free of 4.2 MB."
    )
    # Read ahead by at most the request's read buffer and the parser's chunk.
    assert body.position <= 4 * MiB + 2 * MiB
    assert_nothing_stored(app)
    assert held(app, alice) == (0, 0)


def test_an_announced_length_near_the_limit_is_cut_off_by_the_byte_count(
    app, client, alice, api_headers
):
    # Within the allowance for multipart framing: not refused up front, so the
    # bytes decide, and the first one past the quota stops the upload.
    set_quota(app, alice, 4 * MiB)
    body = MultipartBody("big.zip", 4 * MiB + 512 * 1024)

    response = post_body(client, api_headers(alice), body)

    error = error_of(response, 507, "quota_exceeded")
    # The bytes it held itself are free to it: the figure is the real one.
    assert error["message"] == (
        "This upload needs 4.7 MB but you have 4.2 MB free of 4.2 MB."
    )
    assert body.position < body.length
    assert_nothing_stored(app)
    assert held(app, alice) == (0, 0)


def test_an_upload_that_exactly_fills_the_quota_is_taken(
    app, client, alice, api_headers
):
    set_quota(app, alice, 3 * MiB)
    headers = api_headers(alice)

    first = post_body(client, headers, MultipartBody("a.zip", 2 * MiB))
    second = post_body(client, headers, MultipartBody("b.zip", MiB))
    third = post_body(client, headers, MultipartBody("c.zip", 1))

    assert (first.status_code, second.status_code) == (201, 201)
    error = error_of(third, 507, "quota_exceeded")
    assert "you have 0 bytes free of 3.1 MB" in error["message"]
    assert used_bytes(app, alice) == 3 * MiB
    assert held(app, alice) == (0, 0)


def test_a_client_that_disconnects_releases_its_reservation(
    app, client, alice, api_headers
):
    set_quota(app, alice, 64 * MiB)
    body = MultipartBody("big.zip", 32 * MiB, stop_after=20 * MiB)

    response = post_body(client, api_headers(alice), body)

    assert response.status_code == 400
    assert_nothing_stored(app)
    assert held(app, alice) == (0, 0)


def test_the_browser_form_shows_the_quota_message(app, client, as_alice):
    set_quota(app, as_alice, 10)
    page = client.get("/").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]

    response = client.post(
        "/upload",
        data={"csrf_token": token, "files": (io.BytesIO(b"x" * 500), "notes.txt")},
    )

    assert response.status_code == 507
    assert "This upload needs" in response.text
    assert "but you have 10 bytes free of 10 bytes" in response.text
    assert_nothing_stored(app)


def test_unlimited_accounts_hold_no_reservations(app, client, alice, api_headers):
    response = post_body(client, api_headers(alice), MultipartBody("a.zip", MiB))
    assert response.status_code == 201
    assert held(app, alice) == (0, 0)


def test_uploads_in_progress_count_as_used(app, alice):
    set_quota(app, alice, 1000)
    with app.app_context():
        assert quotas.reserve(alice.id, 600) is not None
        user = db.session.get(User, alice.id)
        assert (user.charged_bytes, user.free_bytes) == (600, 400)
        assert quotas.reserve(alice.id, 600) is None


def test_a_reservation_grows_and_is_released(app, alice):
    set_quota(app, alice, 1000)
    with app.app_context():
        reservation = quotas.reserve(alice.id, 300)
        assert quotas.reserve(alice.id, 900, reservation) == reservation
        assert quotas.reserve(alice.id, 1001, reservation) is None
        assert db.session.get(User, alice.id).reserved_bytes == 900
        quotas.release(reservation)
        quotas.release(reservation)
    assert held(app, alice) == (0, 0)


def test_a_reservation_nobody_renews_expires(app, alice):
    set_quota(app, alice, 1000)
    long_ago = utcnow() - timedelta(hours=1)
    with app.app_context():
        stale = quotas.reserve(alice.id, 800, now=long_ago)
        assert quotas.reserve(alice.id, 800) is None
        assert quotas.release_expired() == 1
        # The upload that held it comes back to life: it starts over.
        renewed = quotas.reserve(alice.id, 800, stale)
        assert renewed not in (None, stale)
    assert held(app, alice) == (800, 1)


def test_a_quota_lowered_while_bytes_arrive_refuses_the_file(app, alice):
    set_quota(app, alice, 1000)
    with app.app_context():
        owner = db.session.get(User, alice.id)
        reservation = quotas.reserve(owner.id, 500)
        writer = get_storage().new_writer(owner.id)
        writer.write(b"x" * 500)
        db.session.execute(
            update(User).where(User.id == owner.id).values(quota_bytes=100)
        )
        db.session.commit()
        with pytest.raises(QuotaExceeded):
            files.store_uploads(owner, [("a.txt", writer)], reservation_id=reservation)
        writer.discard()
        # The reservation is still the upload's own to release.
        quotas.release(reservation)
    assert_nothing_stored(app)
    assert held(app, alice) == (0, 0)


def test_an_upload_finding_no_room_releases_what_dead_uploads_held(
    app, client, alice, api_headers
):
    set_quota(app, alice, 2 * MiB)
    with app.app_context():
        quotas.reserve(alice.id, 2 * MiB, now=utcnow() - timedelta(hours=1))

    response = post_body(client, api_headers(alice), MultipartBody("a.zip", MiB))

    assert response.status_code == 201
    assert held(app, alice) == (0, 0)
    assert used_bytes(app, alice) == MiB


def test_a_slow_upload_renews_its_reservation_before_it_lapses(app, alice, monkeypatch):
    set_quota(app, alice, 100 * MiB)
    clock = [1000.0]
    monkeypatch.setattr(uploads.time, "monotonic", lambda: clock[0])

    def expiry():
        return db.session.get(Reservation, meter.reservation_id).expires_at

    with app.app_context():
        meter = uploads.QuotaMeter(db.session.get(User, alice.id), declared=MiB)
        meter.admit(1000)
        first = expiry()
        clock[0] += 60  # still well within the lifetime: no database write
        meter.admit(1000)
        assert expiry() == first
        clock[0] += app.config["RESERVATION_SECONDS"] / 2
        meter.admit(1000)
        assert expiry() > first
        meter.release()
    assert held(app, alice) == (0, 0)
