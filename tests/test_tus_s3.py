"""tus on an S3 store, whatever store the rest of the suite uses.

A resumable upload's bytes so far are an S3 multipart upload, which can end
under us: aborted by hand or by fsck, or expired by the bucket's lifecycle
rule for old multipart uploads. S3 then answers NoSuchUpload; the client must
get what it gets when a local upload's bytes vanished (tests/test_tus.py):
not found, with nothing left held.

moto (5.2) answers UploadPart for an aborted upload with a 500 where S3
answers 404 NoSuchUpload, so `abort_multipart_uploads` also makes this app's
client get S3's answer for the uploads it aborted.
"""

from types import SimpleNamespace

import boto3
import pytest

from tests.helpers import error_of
from tests.s3server import new_bucket
from tests.tus import NOTHING, Tus, state
from vault.storage import get_storage, s3_writers

pytestmark = pytest.mark.bytes

# Small parts, so a few KiB of request body already write one.
PART = 1024


@pytest.fixture
def app_config(app_config):
    app_config.pop("STORAGE_DIR", None)
    app_config["STORAGE_URL"] = f"s3://{new_bucket()}/vault"
    return app_config


@pytest.fixture
def tus(client, alice, api_headers, monkeypatch):
    monkeypatch.setattr(s3_writers, "PART_BYTES", PART)
    return Tus(client, api_headers(alice))


def abort_multipart_uploads(app) -> int:
    """Abort every multipart upload in the app's bucket; return how many."""
    with app.app_context():
        store = get_storage()
    client = boto3.client("s3")
    uploads = client.list_multipart_uploads(Bucket=store.name).get("Uploads", [])
    aborted = {upload["UploadId"] for upload in uploads}
    for upload in uploads:
        client.abort_multipart_upload(
            Bucket=store.name, Key=upload["Key"], UploadId=upload["UploadId"]
        )

    def as_s3_answers(params, **_):
        if params["query_string"].get("uploadId") in aborted:
            error = {"Code": "NoSuchUpload", "Message": "The upload does not exist"}
            return SimpleNamespace(status_code=404, headers={}), {"Error": error}
        return None

    store.client.meta.events.register("before-call.s3.UploadPart", as_s3_answers)
    return len(uploads)


def test_a_part_written_after_the_upload_was_aborted_is_not_found(app, tus, alice):
    url = tus.start(4 * PART)
    assert abort_multipart_uploads(app) == 1

    response = tus.patch(url, b"x" * (2 * PART), 0)

    error_of(response, 404, "not_found")
    assert state(app, alice) == NOTHING
    assert tus.head(url).status_code == 404


def test_the_last_request_of_an_aborted_upload_is_not_found(app, tus, alice):
    url = tus.start(PART + 100)
    first = tus.patch(url, b"x" * PART, 0)
    assert first.status_code == 204, first.get_data(as_text=True)
    assert abort_multipart_uploads(app) == 1

    # The tail becomes the last part as the file is made: S3 refuses it.
    response = tus.patch(url, b"y" * 100, PART)

    error_of(response, 404, "not_found")
    assert state(app, alice) == NOTHING
    assert abort_multipart_uploads(app) == 0
