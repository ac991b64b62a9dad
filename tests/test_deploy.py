"""gunicorn as the README deploys it (gunicorn.conf.py)."""

import http.client
import os
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def status_of(port: int, path: str = "/login") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_second_server_on_the_same_port_refuses_to_start(app, gunicorn, tmp_path):
    # Each worker listens with SO_REUSEPORT; without the check, the kernel
    # would let this server in too and split the connections between the two.
    environment = {
        **os.environ,
        "VAULT_BIND": f"127.0.0.1:{gunicorn}",
        "VAULT_DATABASE_URL": app.config["DATABASE_URL"],
        "VAULT_STORAGE_DIR": app.config["STORAGE_DIR"],
        "VAULT_SECRET_KEY": app.config["SECRET_KEY"],
    }

    second = subprocess.run(  # noqa: S603 (our own server, fixed arguments)
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode == 1
    assert f"Cannot listen at 127.0.0.1:{gunicorn}: Address already in use" in (
        second.stdout + second.stderr
    )
    assert status_of(gunicorn) == 302  # the first one still serves
