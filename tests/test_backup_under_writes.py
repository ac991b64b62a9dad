"""A backup of a running server while people upload restores into a fresh
instance with every file whole.

gunicorn serves the test database and store; a thread keeps uploading through
the API while `flask --app vault backup` runs in a process of its own, as an
operator's cron job would. On PostgreSQL (VAULT_TEST_DATABASE_URL) the same
test takes the pg_dump path and restores into a database of its own.
"""

import hashlib
import os
import subprocess
import sys
import threading

import pytest
import requests

from tests.backups import empty_instance, files_by_id, fsck_problems, stored_hashes
from tests.helpers import wait_for
from tests.servers import PROJECT_ROOT, gunicorn_environment, served

pytestmark = pytest.mark.bytes


class Uploader(threading.Thread):
    """Uploads files of random sizes until stopped; remembers each one's SHA-256."""

    def __init__(self, url: str, headers: dict):
        super().__init__(daemon=True)
        self.url, self.headers = url, headers
        self.sent: dict[str, str] = {}  # file id -> SHA-256 of what was sent
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with requests.Session() as session:
            while not self.stopping.is_set():
                body = os.urandom(int.from_bytes(os.urandom(2)) * 4)
                answer = session.post(
                    f"{self.url}/api/v1/files",
                    headers=self.headers,
                    files={"file": (f"upload-{len(self.sent)}.bin", body)},
                    timeout=30,
                )
                if answer.status_code != 201:
                    self.failures.append(f"{answer.status_code} {answer.text}")
                    return
                [file] = answer.json()["files"]
                self.sent[file["id"]] = hashlib.sha256(body).hexdigest()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)


def backup_command(app, destination) -> subprocess.CompletedProcess:
    """Run `flask --app vault backup` on the served database and store."""
    environment = gunicorn_environment(app, 0)
    return subprocess.run(  # noqa: S603 (our own command, fixed arguments)
        [sys.executable, "-m", "flask", "--app", "vault", "backup", str(destination)],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_backup_under_uploads_restores_every_file_with_its_sha256(
    app, alice, api_headers, tmp_path
):
    destination = tmp_path / "backup"
    log = tmp_path / "gunicorn.log"
    with served(app, log, workers=2, threads=4) as (port, _):
        uploader = Uploader(f"http://127.0.0.1:{port}", api_headers(alice))
        uploader.start()
        try:
            assert wait_for(lambda: len(uploader.sent) >= 20 or uploader.failures)
            before = set(uploader.sent)
            result = backup_command(app, destination)
            during = set(uploader.sent) - before
        finally:
            uploader.stop()
    assert uploader.failures == []
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Backup complete" in result.stdout
    assert during, "no upload finished while the backup ran"

    with empty_instance(tmp_path / "restored") as restored:
        restoring = restored.test_cli_runner().invoke(
            args=["restore", str(destination)]
        )
        assert restoring.exit_code == 0, restoring.output
        rows = files_by_id(restored)

        # Everything uploaded before the backup began, perhaps some of what
        # came during it, nothing else; each with the bytes that were sent.
        assert before <= set(rows) <= set(uploader.sent)
        assert {id: sha256 for id, (_, _, sha256, _) in rows.items()} == {
            id: uploader.sent[id] for id in rows
        }
        assert stored_hashes(restored) == {id: uploader.sent[id] for id in rows}
        assert fsck_problems(restored) == []
        assert files_by_id(app).keys() >= rows.keys()
