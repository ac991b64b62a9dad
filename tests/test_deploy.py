"""gunicorn as the README deploys it (gunicorn.conf.py)."""

import http.client
import subprocess

from tests.servers import GUNICORN_COMMAND, PROJECT_ROOT, gunicorn_environment


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
    second = subprocess.run(  # noqa: S603 (our own server, fixed arguments)
        GUNICORN_COMMAND,
        cwd=PROJECT_ROOT,
        env=gunicorn_environment(app, gunicorn),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode == 1
    assert f"Cannot listen at 127.0.0.1:{gunicorn}: Address already in use" in (
        second.stdout + second.stderr
    )
    assert status_of(gunicorn) == 302  # the first one still serves
