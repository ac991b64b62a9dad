"""Two app servers, no sticky sessions: see docs/deploy/scale-out.md.

Two gunicorns with instance folders of their own share one PostgreSQL
database, one bucket (the test S3 server) and one secret key; Debian's nginx
in front hands requests to them in turn. Whatever a person does through it
must not depend on which server answers: a session, a tus upload whose
chunks land on both, a quota or a download limit raced from both, and the
sweepers both servers run.
"""

import contextlib
import hashlib
import io
import random
import re
import time

import pytest
import requests
from tusclient.client import TusClient

from tests import factories
from tests.cluster import cluster, main_config
from tests.conftest import PASSWORD, TEST_DATABASE_URL, base_config, csrf_token_from
from tests.conftest import fresh_app as fresh
from tests.helpers import blobs, node, set_quota, wait_for
from tests.s3server import new_bucket
from tests.servers import PROJECT_ROOT, free_port
from tests.test_nginx import NGINX, assert_nginx_accepts
from tests.test_quotas_concurrency import run_together
from tests.test_shares_public import link_row, make_link
from tests.tus import expire, state
from vault.extensions import db
from vault.models import ResumableUpload
from vault.services import exclusive
from vault.services.share_downloads import UNIT
from vault.storage import get_storage
from vault.storage.base import StoredEntry

pytestmark = [
    pytest.mark.skipif(
        TEST_DATABASE_URL is None,
        reason="several app servers share one database server: set "
        "VAULT_TEST_DATABASE_URL to a PostgreSQL database (CI's second pass does)",
    ),
    pytest.mark.skipif(not NGINX.exists(), reason="needs Debian's nginx"),
]

KiB, MiB = 1024, 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}
SWEEP_SECONDS = 0.3


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory):
    """The test's view of what both servers share: database, bucket, secret key."""
    config = base_config(tmp_path_factory.mktemp("scale-out"))
    config.pop("STORAGE_DIR", None)
    config["STORAGE_URL"] = f"s3://{new_bucket()}/vault"
    with fresh(config) as app:
        yield app


@pytest.fixture(scope="module")
def servers(shared_app, tmp_path_factory):
    with cluster(
        shared_app,
        tmp_path_factory.mktemp("cluster"),
        workers=2,
        threads=8,
        cleanup_seconds=SWEEP_SECONDS,
    ) as running:
        yield running


@pytest.fixture
def person(shared_app):
    """A new account (email, user row) and its API headers."""
    email = f"someone-{random.randrange(10**9)}@example.com"  # noqa: S311
    with shared_app.app_context():
        user = factories.create_user(email, PASSWORD)
        token = factories.create_token(user)
    return email, user, {"Authorization": f"Bearer {token}"}


def test_nginx_hands_requests_to_each_server_in_turn(servers, person):
    seen = len(servers.logged())
    for _ in range(6):
        assert requests.get(f"{servers.url}/login", timeout=10).status_code == 200

    answered = servers.answered_by(servers.logged_since(seen, "GET /login ", 6))
    ours = [str(port) for port in servers.ports]
    assert sorted(answered) == sorted(ours * 3)
    assert all(a != b for a, b in zip(answered, answered[1:], strict=False))


def sign_in_and_make_a_token(browser, email: str, name: str, first: str, second: str):
    """Sign in and make an API token called `name`: each form is fetched from
    `first` and posted to `second`. Return the answers to the sign-in, the
    account page and the token's form."""
    token = csrf_token_from(browser.get(f"{first}/login", timeout=10).text)
    signed_in = browser.post(
        f"{second}/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    account = browser.get(f"{first}/account", timeout=10)
    made = browser.post(
        f"{second}/account/tokens",
        data={"name": name, "csrf_token": csrf_token_from(account.text)},
        timeout=10,
    )
    return signed_in, account, made


def test_a_session_made_on_one_server_works_on_the_other(servers, person):
    email = person[0]
    first, second = servers.server_url(0), servers.server_url(1)
    browser = requests.Session()

    signed_in, account, made = sign_in_and_make_a_token(
        browser, email, "made on the other server", first, second
    )
    forged = browser.post(
        f"{first}/account/tokens", data={"name": "no token"}, timeout=10
    )

    assert signed_in.status_code == 302
    assert (account.status_code, email in account.text) == (200, True)
    assert made.status_code == 201
    assert "made on the other server" in made.text
    assert forged.status_code == 400


def test_a_browser_through_nginx_meets_both_servers(servers, person):
    email = person[0]
    browser = requests.Session()
    seen = len(servers.logged())

    signed_in, account, made = sign_in_and_make_a_token(
        browser, email, "through nginx", servers.url, servers.url
    )

    assert (signed_in.status_code, account.status_code, made.status_code) == (
        302,
        200,
        201,
    )
    assert email in account.text
    # Each request went to the other server than the one before it.
    answered = servers.answered_by(servers.logged_since(seen, "", 4))
    assert len(answered) == 4
    assert all(a != b for a, b in zip(answered, answered[1:], strict=False))


def test_a_tus_upload_whose_chunks_alternate_between_servers(
    shared_app, servers, person
):
    headers = {**person[2], **TUS}
    content = random.Random(11).randbytes(5 * 300 * KiB + 17)
    created = requests.post(
        f"{servers.server_url(0)}/api/v1/uploads",
        headers={
            **headers,
            "Upload-Length": str(len(content)),
            "Upload-Metadata": "filename YWx0ZXJuYXRpbmcuYmlu",  # alternating.bin
        },
        timeout=10,
    )
    path = "/api/v1/uploads/" + created.headers["Location"].rsplit("/", 1)[1]

    answers = []
    for index, offset in enumerate(range(0, len(content), 300 * KiB)):
        answers.append(
            requests.patch(
                f"{servers.server_url(index % 2)}{path}",
                headers={
                    **headers,
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                },
                data=content[offset : offset + 300 * KiB],
                timeout=30,
            )
        )

    assert created.status_code == 201
    assert [answer.status_code for answer in answers] == [204] * 6
    file = node(shared_app, answers[-1].headers["Upload-File-Id"])
    assert file.sha256 == hashlib.sha256(content).hexdigest()
    assert file.size == len(content)
    assert blobs(shared_app)[file.storage_key] == content


def test_a_tus_client_through_nginx_finishes_with_the_right_hash(
    shared_app, servers, person
):
    content = random.Random(12).randbytes(2 * MiB + 3)
    seen = len(servers.logged())
    client = TusClient(f"{servers.url}/api/v1/uploads", headers=person[2])
    uploader = client.uploader(
        file_stream=io.BytesIO(content),
        chunk_size=256 * KiB,
        metadata={"filename": "through nginx.bin"},
    )

    uploader.upload()

    patches = servers.logged_since(seen, "PATCH ", 9)
    assert [line.split()[2] for line in patches] == ["204"] * 9
    assert set(servers.answered_by(patches)) == {str(port) for port in servers.ports}
    upload_id = uploader.url.rsplit("/", 1)[1]
    with shared_app.app_context():
        file_id = db.session.get(ResumableUpload, upload_id).file_id
    file = node(shared_app, file_id)
    assert file.sha256 == hashlib.sha256(content).hexdigest()


def test_concurrent_uploads_through_both_servers_stay_within_the_quota(
    shared_app, servers, person
):
    email, user, headers = person
    set_quota(shared_app, user, 5 * MiB + MiB // 2)  # room for exactly five
    seen = len(servers.logged())

    def upload(index):
        return requests.post(
            f"{servers.url}/api/v1/files",
            headers=headers,
            files={"file": (f"part-{index}.bin", bytes(MiB))},
            timeout=60,
        ).status_code

    statuses = run_together(12, upload)

    assert sorted(statuses) == [201] * 5 + [507] * 7
    answered = servers.answered_by(
        servers.logged_since(seen, "POST /api/v1/files ", 12)
    )
    assert set(answered) == {str(port) for port in servers.ports}
    held = state(shared_app, user)
    assert (held["used"], held["reserved"], held["reservations"]) == (5 * MiB, 0, 0)


def test_a_download_limit_holds_across_both_servers(shared_app, servers, person):
    email, user, headers = person
    content = random.Random(13).randbytes(100 * KiB)
    with shared_app.app_context():
        file = factories.store_file(user, "limited.bin", content)
    link = make_link(shared_app, user, file, max_downloads=3)
    seen = len(servers.logged())

    def download(_):
        answer = requests.get(f"{servers.url}{link.url}/download", timeout=30)
        return answer.status_code, answer.content == content

    results = run_together(10, download)

    assert sorted(results) == [(200, True)] * 3 + [(410, False)] * 7
    answered = servers.answered_by(servers.logged_since(seen, "GET /s/", 10))
    assert set(answered) == {str(port) for port in servers.ports}
    assert link_row(shared_app, link).download_units == 3 * UNIT


def test_both_servers_sweep_one_at_a_time_and_nothing_twice(
    shared_app, servers, person
):
    email, user, headers = person
    urls = [tus_upload_of_five_bytes(servers, headers, index) for index in range(6)]
    removed_before = servers.uploads_swept()

    with shared_app.app_context(), sweep_lock_taken() as held:
        for url in urls:
            expire(shared_app, url)
        before = state(shared_app, user)
        skipped_before = [servers.sweeps(index)[1] for index in (0, 1)]
        # Every server tries at least once more while the lock is taken (on a
        # loaded machine a turn may take longer than SWEEP_SECONDS).
        both_skipped = wait_for(
            lambda: all(
                servers.sweeps(index)[1] > skipped_before[index] for index in (0, 1)
            )
        )
        time.sleep(4 * SWEEP_SECONDS)  # and a few turns more
        during = state(shared_app, user)

    assert held is True
    assert before["uploads"] == 6
    assert both_skipped
    assert during == before
    assert wait_for(lambda: holds_nothing(shared_app, user))
    assert all(servers.sweeps(index)[0] > 0 for index in (0, 1))
    removed = servers.uploads_swept()
    assert removed - removed_before == 6
    assert "cleanup failed" not in servers.server_log(0) + servers.server_log(1)


@contextlib.contextmanager
def sweep_lock_taken():
    """Hold the sweepers' lock, taking it between two of their sweeps."""
    for _ in range(200):
        with exclusive.only_one("sweep") as held:
            if held:
                yield held
                return
        time.sleep(0.01)
    pytest.fail("the sweepers never let go of their lock")


def holds_nothing(app, user) -> bool:
    """Whether the user holds no upload, quota or reservation, and the bucket
    no unfinished bytes (every other test here finishes its uploads)."""
    held = state(app, user)
    with app.app_context():
        unfinished = [
            entry
            for entry in get_storage().scan()
            if entry.kind not in (StoredEntry.BLOB, StoredEntry.NAMESPACE)
        ]
    return (held["uploads"], held["reserved"], held["reservations"], unfinished) == (
        0,
        0,
        0,
        [],
    )


def tus_upload_of_five_bytes(servers, headers, index: int) -> str:
    """Start an upload of 10 bytes through nginx and send 5; return its URL."""
    headers = {**headers, **TUS}
    created = requests.post(
        f"{servers.url}/api/v1/uploads",
        headers={
            **headers,
            "Upload-Length": "10",
            "Upload-Metadata": "filename dW5maW5pc2hlZA==",
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    url = created.headers["Location"]
    patched = requests.patch(
        url,
        headers={
            **headers,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
        data=b"hello",
        timeout=10,
    )
    assert patched.status_code == 204, patched.text
    return url


def test_nginx_accepts_the_upstreams_of_the_scale_out_guide(tmp_path):
    guide = (PROJECT_ROOT / "docs" / "deploy" / "scale-out.md").read_text()
    [example] = re.findall(r"```nginx\n(.*?)```", guide, re.DOTALL)
    server = example.replace(
        "server {", f"server {{\n    listen 127.0.0.1:{free_port()};"
    )
    (tmp_path / "nginx.conf").write_text(main_config(tmp_path, server))

    assert_nginx_accepts(tmp_path)


def test_the_servers_write_nothing_into_their_instance_folders(servers, person):
    assert requests.get(f"{servers.url}/login", timeout=10).status_code == 200
    for index in (0, 1):
        folder = servers.run_dir / f"instance-{index}"
        # Only the config.py the test put there: no key, database or bytes.
        assert [path.name for path in folder.iterdir()] == ["config.py"]
