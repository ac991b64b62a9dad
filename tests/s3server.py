"""An S3 API server for tests: moto in server mode on 127.0.0.1, started once.

The first test that needs it starts it; it stops when the test run ends. Each
caller gets a bucket of its own, so tests never see each other's objects.
"""

import atexit
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.servers import free_port, stop, wait_until_answering

_endpoint: str | None = None


def s3_endpoint() -> str:
    """Return the URL of the test S3 server, starting it the first time.

    The standard AWS variables point every boto3 client of this process, and
    of servers it starts, at it.
    """
    global _endpoint
    if _endpoint is None:
        port = free_port()
        log = Path(tempfile.mkdtemp(prefix="vault-moto-")) / "moto.log"
        with log.open("w") as output:
            process = subprocess.Popen(  # noqa: S603 (fixed arguments)
                [
                    sys.executable,
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    str(port),
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        atexit.register(stop, process)
        wait_until_answering(port, process, log)
        _endpoint = f"http://127.0.0.1:{port}"
        os.environ.update(
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_REGION="us-east-1",
            AWS_ENDPOINT_URL_S3=_endpoint,
        )
        os.environ.pop("AWS_PROFILE", None)
    return _endpoint


def new_bucket() -> str:
    """Create an empty bucket on the test server; return its name."""
    import boto3

    s3_endpoint()
    name = "vault-test-" + secrets.token_hex(8)
    boto3.client("s3").create_bucket(Bucket=name)
    return name
