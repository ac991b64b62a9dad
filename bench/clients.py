"""HTTP clients: the same operations, each done the way its server expects.

Bodies stream from a file on disk in 1 MiB blocks through http.client, so the
client costs the same for every server. An operation a server does not offer
raises Unavailable with the reason, which the report prints as n/a.
"""

import base64
import http.client
import itertools
import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.servers import (
    EMAIL,
    HOST,
    PASSWORD,
    UPLOADER_EMAIL,
    Copyparty,
    Server,
    Unavailable,
)

BLOCK = 1024 * 1024
TUS_CHUNK = 64 * 1024 * 1024
TUS_HEADERS = {"Tus-Resumable": "1.0.0"}


class BenchError(Exception):
    """A server answered something other than what the operation expects."""


@dataclass
class Uploaded:
    path: str  # where to download it from
    sha256: str | None = None  # the server's hash of what it stored, if it says


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    def json(self):
        return json.loads(self.body)


def file_blocks(path: Path, start: int = 0, length: int | None = None) -> Iterator:
    """Yield the bytes of path from start, length bytes (all by default)."""
    with path.open("rb", buffering=0) as source:
        source.seek(start)
        remaining = path.stat().st_size - start if length is None else length
        while remaining > 0:
            block = source.read(min(BLOCK, remaining))
            if not block:
                raise BenchError(f"{path} ended {remaining} bytes early")
            remaining -= len(block)
            yield block


def multipart(fields: dict[str, str], file_field: str, filename: str):
    """Return the bytes before and after a file's content, and the Content-Type."""
    boundary = uuid.uuid4().hex
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        f"{value}\r\n".encode()
        for name, value in fields.items()
    )
    head += (
        f"--{boundary}\r\nContent-Disposition: form-data; "
        f'name="{file_field}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head, tail, f"multipart/form-data; boundary={boundary}"


def wrk(port: int, path: str, headers: dict, seconds: float, connections: int):
    """Return the requests per second wrk sustains on one GET."""
    executable = shutil.which("wrk")
    if executable is None:
        raise Unavailable("wrk is not installed (apt-get install wrk)")
    command = [executable, "-t1", f"-c{connections}", f"-d{seconds}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://{HOST}:{port}{path}")
    output = subprocess.run(command, capture_output=True, text=True, check=True)
    if "Non-2xx" in output.stdout:
        raise BenchError(f"wrk saw failures on {path}: {output.stdout}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output.stdout)[1])


class Client:
    """Requests to one server; subclasses name the paths and the auth."""

    def __init__(self, server: Server):
        self.server = server
        self.auth: dict[str, str] = {}

    def setup(self) -> None:
        """Log in, so that requests carry credentials."""

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(
            HOST, self.server.port, timeout=600, blocksize=BLOCK
        )

    def call(
        self,
        connection,
        method,
        path,
        body=None,
        headers=None,
        expect=(200,),
        auth=True,
    ):
        headers = {**(self.auth if auth else {}), **(headers or {})}
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        answer = Answer(response.status, response.headers, response.read())
        if answer.status not in expect:
            raise BenchError(
                f"{self.server.name}: {method} {path} answered {answer.status}: "
                f"{answer.body[:300]!r}"
            )
        return answer

    def fetch(self, connection, path: str, headers=None, expect=(200,)) -> Answer:
        return self.call(connection, "GET", path, None, headers, expect)

    def send_file(self, method, path, source: Path, headers=None, expect=(201,)):
        size = source.stat().st_size
        headers = {**(headers or {}), "Content-Length": str(size)}
        connection = self.connect()
        try:
            return self.call(
                connection, method, path, file_blocks(source), headers, expect
            )
        finally:
            connection.close()

    def send_multipart(self, path, fields, file_field, source: Path, name: str):
        head, tail, content_type = multipart(fields, file_field, name)
        body = itertools.chain([head], file_blocks(source), [tail])
        length = len(head) + source.stat().st_size + len(tail)
        headers = {"Content-Type": content_type, "Content-Length": str(length)}
        connection = self.connect()
        try:
            return self.call(connection, "POST", path, body, headers, (200, 201))
        finally:
            connection.close()

    def download(self, path: str) -> int:
        """Fetch path whole; return the number of bytes received."""
        connection = self.connect()
        try:
            connection.request("GET", path, headers=self.auth)
            response = connection.getresponse()
            if response.status != 200:
                raise BenchError(f"{self.server.name}: GET {path}: {response.status}")
            buffer = memoryview(bytearray(BLOCK))
            received = 0
            while count := response.readinto(buffer):
                received += count
            return received
        finally:
            connection.close()

    # Each server's own way of doing the operations measured.
    def upload_one_request(self, source: Path, name: str) -> Uploaded:
        """Upload in one request."""
        raise Unavailable(f"{self.server.name} has no such upload")

    def upload_put(self, source: Path, name: str) -> str:
        raise Unavailable(f"{self.server.name} takes no PUT")

    def upload_tus(self, source: Path, name: str) -> str:
        """Upload with tus; return where to download the file from."""
        raise Unavailable(f"{self.server.name} does not speak tus")

    def small_batch(self, batch: str) -> str:
        """Return where the uploads of one batch of small files go."""
        return batch

    def upload_small(self, connection, target: str, name: str, data: bytes):
        raise Unavailable(f"{self.server.name} has no such upload")

    def tiny_get(self) -> tuple[str, dict[str, str]]:
        """Return the path and headers of the cheapest comparable GET."""
        raise Unavailable(f"{self.server.name} has no such request")

    def folder_page(self, folder: str) -> str:
        raise Unavailable(f"{self.server.name} lists no folders")

    def page(self, connection, path: str) -> Answer:
        """Fetch a page the way a signed-in browser would."""
        return self.fetch(connection, path)

    def discard(self, path: str) -> None:
        """Delete an uploaded big file, so the disk does not fill up."""


class VaultClient(Client):
    def setup(self) -> None:
        connection = self.connect()
        self.cookie = self._log_in(connection)
        self.auth = self._token(connection, EMAIL)
        self.uploader_auth = self._token(connection, UPLOADER_EMAIL)
        connection.close()

    def _token(self, connection, email: str) -> dict[str, str]:
        body = json.dumps({"email": email, "password": PASSWORD, "name": "bench"})
        headers = {"Content-Type": "application/json"}
        answer = self.call(
            connection, "POST", "/api/v1/tokens", body, headers, (201,), auth=False
        )
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    def _log_in(self, connection) -> str:
        """Sign in through the login form; return the session cookie."""
        page = self.fetch(connection, "/login")
        token = re.search(
            rb'name="csrf_token" type="hidden" value="([^"]+)"', page.body
        )
        form = {"csrf_token": token[1].decode(), "email": EMAIL, "password": PASSWORD}
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": session_cookie(page),
        }
        signed_in = self.call(
            connection, "POST", "/login", urlencode(form), headers, (302, 303)
        )
        return session_cookie(signed_in)

    def upload_one_request(self, source: Path, name: str) -> Uploaded:
        answer = self.send_multipart("/api/v1/files", {}, "file", source, name)
        [stored] = answer.json()["files"]
        return Uploaded(f"/api/v1/files/{stored['id']}/content", stored["sha256"])

    def upload_tus(self, source: Path, name: str) -> str:
        """Upload with tus 1.0.0: create, then PATCH chunks on one connection."""
        size = source.stat().st_size
        metadata = "filename " + base64.b64encode(name.encode()).decode()
        headers = {
            **TUS_HEADERS,
            "Upload-Length": str(size),
            "Upload-Metadata": metadata,
        }
        connection = self.connect()
        try:
            answer = self.call(
                connection, "POST", "/api/v1/uploads", b"", headers, (201,)
            )
            if "Location" not in answer.headers:
                raise BenchError("vault created a tus upload without a Location")
            location = urlsplit(answer.headers["Location"]).path
            offset = 0
            while offset < size:
                answer = self._patch(connection, location, source, offset, size)
                offset = int(answer.headers["Upload-Offset"])
        finally:
            connection.close()
        # The request that completes the upload names the file it became.
        if "Upload-File-Id" not in answer.headers:
            raise BenchError("vault finished a tus upload without an Upload-File-Id")
        return f"/api/v1/files/{answer.headers['Upload-File-Id']}/content"

    def _patch(self, connection, location, source, offset, size) -> Answer:
        length = min(TUS_CHUNK, size - offset)
        headers = {
            **TUS_HEADERS,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset),
            "Content-Length": str(length),
        }
        body = file_blocks(source, offset, length)
        return self.call(connection, "PATCH", location, body, headers, (204,))

    def small_batch(self, batch: str) -> str:
        connection = self.connect()
        body = json.dumps({"name": batch, "parent_id": None})
        headers = {**self.uploader_auth, "Content-Type": "application/json"}
        answer = self.call(
            connection, "POST", "/api/v1/folders", body, headers, (201,), auth=False
        )
        connection.close()
        return answer.json()["id"]

    def upload_small(self, connection, target: str, name: str, data: bytes):
        head, tail, content_type = multipart({"folder_id": target}, "file", name)
        headers = {**self.uploader_auth, "Content-Type": content_type}
        body = head + data + tail
        self.call(
            connection, "POST", "/api/v1/files", body, headers, (201,), auth=False
        )

    def tiny_get(self) -> tuple[str, dict[str, str]]:
        return "/api/v1/me", self.auth

    def folder_page(self, folder: str) -> str:
        # The seeded files sit in the root folder, which is "/" in the browser.
        return "/"

    def page(self, connection, path: str) -> Answer:
        # The session cookie alone, as a browser sends it.
        headers = {"Cookie": self.cookie}
        return self.call(connection, "GET", path, None, headers, auth=False)

    def discard(self, path: str) -> None:
        # Deleting moves the file to the trash, where it keeps its bytes (and
        # quota) until deleted from there too.
        file_id = path.removeprefix("/api/v1/files/").removesuffix("/content")
        connection = self.connect()
        try:
            for target in (f"/api/v1/files/{file_id}", f"/api/v1/trash/{file_id}"):
                self.call(connection, "DELETE", target, expect=(204,))
        finally:
            connection.close()


def session_cookie(answer: Answer) -> str:
    for header in answer.headers.get_all("Set-Cookie") or []:
        if header.startswith("session="):
            return header.split(";", 1)[0]
    raise BenchError("vault set no session cookie")


class FileServerClient(Client):
    """copyparty and nginx keep uploads as plain files in their data dir."""

    def discard(self, path: str) -> None:
        name = path.rsplit("/", 1)[-1]
        (self.server.data / name).unlink()


class CopypartyClient(FileServerClient):
    def setup(self) -> None:
        secret = base64.b64encode(f"{Copyparty.user}:{PASSWORD}".encode()).decode()
        self.auth = {"Authorization": f"Basic {secret}"}

    def upload_one_request(self, source: Path, name: str) -> Uploaded:
        # "bput" is its plain browser upload (multipart); "?j" answers in JSON.
        answer = self.send_multipart("/?j", {"act": "bput"}, "f", source, name)
        [stored] = answer.json()["files"]
        return Uploaded(stored["path"])

    def upload_put(self, source: Path, name: str) -> str:
        self.send_file("PUT", f"/{name}", source)
        return f"/{name}"

    def upload_small(self, connection, target: str, name: str, data: bytes):
        head, tail, content_type = multipart({"act": "bput"}, "f", name)
        headers = {"Content-Type": content_type}
        body = head + data + tail
        self.call(connection, "POST", f"/{target}/?j", body, headers, (200, 201))

    def tiny_get(self) -> tuple[str, dict[str, str]]:
        return "/tiny.txt", self.auth

    def folder_page(self, folder: str) -> str:
        return f"/{folder}/"


class NginxClient(FileServerClient):
    def upload_one_request(self, source: Path, name: str) -> Uploaded:
        # nginx takes no multipart uploads: PUT is its single-request upload.
        return Uploaded(self.upload_put(source, name))

    def upload_put(self, source: Path, name: str) -> str:
        self.send_file("PUT", f"/dav/{name}", source, expect=(201, 204))
        return f"/files/{name}"

    def upload_small(self, connection, target: str, name: str, data: bytes):
        self.call(connection, "PUT", f"/dav/{target}/{name}", data, {}, (201, 204))

    def tiny_get(self) -> tuple[str, dict[str, str]]:
        return "/files/tiny.txt", {}

    def folder_page(self, folder: str) -> str:
        return f"/files/{folder}/"


CLIENTS = {"vault": VaultClient, "copyparty": CopypartyClient, "nginx": NginxClient}


def client_for(server: Server) -> Client:
    client = CLIENTS[server.name](server)
    client.setup()
    return client
