"""A complete tus upload answers as complete until it expires (tus 1.0.0).

A client whose last answer was lost (a dropped connection, a proxy timeout)
asks the server where the upload stands. It must learn that the upload is
done, and which file it became, rather than send the whole file again and
end up with a second copy named "name (1)".
"""

import os
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.helpers import live_nodes, nodes
from tests.tus import NOTHING, Tus, expire, state
from vault.extensions import db
from vault.models import ResumableUpload, User, utcnow
from vault.services import files, resumable, resumable_expiry, trash
from vault.services.fsck import check
from vault.services.resumable_lease import Lease

pytestmark = pytest.mark.bytes

CONTENT = os.urandom(300_000)
PIECES = [CONTENT[:100_000], CONTENT[100_000:]]


@pytest.fixture
def tus(client, alice, api_headers):
    return Tus(client, api_headers(alice))


def send_all(tus, url, content=CONTENT, offset=0):
    """PATCH what is left of `content` from `offset`, as a tus client does."""
    response = None
    while offset < len(content):
        piece = content[offset : offset + 100_000]
        response = tus.patch(url, piece, offset)
        assert response.status_code == 204, response.get_data(as_text=True)
        offset = int(response.headers["Upload-Offset"])
    return response


def resume(tus, url, filename="notes.txt"):
    """Carry on an upload after a lost answer, as tus clients do.

    Ask where it stands (HEAD); an upload the server no longer knows is
    started again from scratch (tuspy with a URL store, tus-js-client, ours).
    Return the id of the file it became.
    """
    status = tus.head(url)
    if status.status_code == 404:
        url = tus.start(len(CONTENT), filename)
        return send_all(tus, url).headers["Upload-File-Id"]
    assert status.status_code == 200
    last = send_all(tus, url, offset=int(status.headers["Upload-Offset"]))
    return (last or status).headers["Upload-File-Id"]


def complete(tus) -> tuple[str, str]:
    """Upload CONTENT in two requests; return its URL and its file's id."""
    url = tus.start(len(CONTENT))
    return url, send_all(tus, url).headers["Upload-File-Id"]


def test_a_lost_last_answer_does_not_make_a_second_file(app, tus, alice):
    url = tus.start(len(CONTENT))
    tus.patch(url, PIECES[0], 0)
    tus.patch(url, PIECES[1], len(PIECES[0]))  # its answer never arrives

    file_id = resume(tus, url)

    [file] = live_nodes(app)
    assert (file.id, file.name, file.size) == (file_id, "notes.txt", len(CONTENT))
    assert state(app, alice) == {**NOTHING, "used": len(CONTENT), "blobs": 1}


def test_head_says_complete_with_the_file_until_it_expires(app, tus, alice):
    url, file_id = complete(tus)

    head = tus.head(url)

    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == str(len(CONTENT))
    assert head.headers["Upload-Length"] == str(len(CONTENT))
    assert head.headers["Upload-File-Id"] == file_id
    assert head.headers["Tus-Resumable"] == "1.0.0"
    assert "Upload-Expires" in head.headers
    expire(app, url)
    assert tus.head(url).status_code == 404


def test_the_last_request_sent_again_empty_answers_with_the_file(app, tus, alice):
    url, file_id = complete(tus)

    again = tus.patch(url, b"", len(CONTENT))

    assert again.status_code == 204
    assert again.headers["Upload-Offset"] == str(len(CONTENT))
    assert again.headers["Upload-File-Id"] == file_id
    assert [file.id for file in nodes(app)] == [file_id]
    assert state(app, alice) == {**NOTHING, "used": len(CONTENT), "blobs": 1}


@pytest.mark.parametrize(
    ("offset", "data", "status"),
    [
        (len(CONTENT), b"more", 413),
        (len(PIECES[0]), PIECES[1], 409),
        (0, CONTENT, 409),
    ],
)
def test_a_complete_upload_takes_no_more_bytes(app, tus, alice, offset, data, status):
    url, file_id = complete(tus)

    response = tus.patch(url, data, offset)

    assert response.status_code == status
    assert [file.id for file in nodes(app)] == [file_id]
    assert state(app, alice) == {**NOTHING, "used": len(CONTENT), "blobs": 1}
    assert tus.head(url).headers["Upload-Offset"] == str(len(CONTENT))


def test_a_complete_upload_is_only_its_owners(app, tus, bob, api_headers):
    url, _ = complete(tus)
    stranger = Tus(tus.client, api_headers(bob))

    for response in (
        stranger.head(url),
        stranger.patch(url, b"", len(CONTENT)),
        stranger.delete(url),
    ):
        assert response.status_code == 404
        assert "Upload-File-Id" not in response.headers
    assert tus.head(url).status_code == 200


@pytest.mark.parametrize("gone", ["trashed", "deleted for good"])
def test_a_file_trashed_or_deleted_since_is_not_uploaded_again(app, tus, alice, gone):
    url, file_id = complete(tus)
    with app.app_context():
        trash.move_to_trash(alice, files.get_file(alice, file_id))
        db.session.commit()
        if gone == "deleted for good":
            trash.delete_forever(alice, file_id)
    before = state(app, alice)

    head = tus.head(url)
    again = tus.patch(url, b"", len(CONTENT))

    # The upload is done; what became of its file since is the owner's doing.
    for response in (head, again):
        assert response.headers["Upload-Offset"] == str(len(CONTENT))
        assert response.headers["Upload-File-Id"] == file_id
    assert live_nodes(app) == []
    assert state(app, alice) == before


def test_terminating_a_complete_upload_keeps_its_file(app, tus, alice):
    url, file_id = complete(tus)

    response = tus.delete(url)

    assert response.status_code == 204
    assert tus.head(url).status_code == 404
    assert [file.id for file in live_nodes(app)] == [file_id]
    assert state(app, alice) == {**NOTHING, "used": len(CONTENT), "blobs": 1}


def test_cleanup_forgets_a_complete_upload_when_it_expires(app, tus, alice, runner):
    url, file_id = complete(tus)
    with app.app_context():
        later = utcnow() + timedelta(hours=23)
        assert resumable_expiry.remove_expired(now=later) == (0, 0)
    assert tus.head(url).status_code == 200
    expire(app, url)

    result = runner.invoke(args=["cleanup"])

    assert result.exit_code == 0, result.output
    # Only unfinished uploads count: a complete one held no bytes of its own.
    assert result.output.startswith("Removed 0 expired uploads (0 bytes received).")
    with app.app_context():
        assert db.session.scalars(select(ResumableUpload)).all() == []
    assert [file.id for file in live_nodes(app)] == [file_id]
    assert state(app, alice) == {**NOTHING, "used": len(CONTENT), "blobs": 1}


def test_fsck_takes_an_expired_complete_upload_for_no_problem(app, tus):
    url, _ = complete(tus)
    expire(app, url)

    with app.app_context():
        report = check(repair=False)

    assert report.problems == []


def test_an_upload_reads_complete_only_once_its_file_is_committed(
    app, tus, alice, monkeypatch
):
    """A crash while the file is being added leaves the upload to finish."""
    url = tus.start(len(CONTENT))
    tus.patch(url, PIECES[0], 0)

    def crash(*args, **options):
        raise RuntimeError("the worker died while adding the file")

    monkeypatch.setattr(files, "store_uploads", crash)
    with pytest.raises(RuntimeError):
        tus.patch(url, PIECES[1], len(PIECES[0]))
    monkeypatch.undo()

    head = tus.head(url)
    assert head.headers["Upload-Offset"] == str(len(PIECES[0]))
    assert "Upload-File-Id" not in head.headers
    file_id = resume(tus, url)
    [file] = live_nodes(app)
    assert (file.id, file.name, file.size) == (file_id, "notes.txt", len(CONTENT))
    assert state(app, alice) == {**NOTHING, "used": len(CONTENT), "blobs": 1}


def test_a_complete_upload_through_post_override_answers_too(tus):
    url, file_id = complete(tus)

    again = tus.client.post(
        url,
        data=b"",
        headers={
            **tus.headers,
            "X-HTTP-Method-Override": "PATCH",
            "Upload-Offset": str(len(CONTENT)),
            "Content-Type": "application/offset+octet-stream",
        },
    )

    assert again.status_code == 204
    assert again.headers["Upload-File-Id"] == file_id


def test_an_empty_upload_is_complete_at_creation_and_stays_so(tus):
    created = tus.create(0, "empty.txt")
    assert created.status_code == 201
    url = created.headers["Location"]

    head = tus.head(url)

    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "0"
    assert head.headers["Upload-File-Id"] == created.headers["Upload-File-Id"]


def test_a_completion_rolled_back_and_tried_again_still_holds_its_lease(app, alice):
    # _add_files tries again when a name was taken meanwhile: what the first
    # try recorded is rolled back, and the lease must still be this request's.
    with app.app_context():
        owner = db.session.get(User, alice.id)
        upload = resumable.create_upload(owner, 5, "notes.txt")
        lease = Lease.take(owner, upload.id, utcnow())

        lease.record(offset=5)
        db.session.rollback()
        lease.record(offset=5)
        db.session.commit()
        lease.release()

        assert db.session.get(ResumableUpload, upload.id).locked_until is None
