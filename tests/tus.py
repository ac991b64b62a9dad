"""A tus client over the Flask test client, and what a user's uploads hold."""

import base64
from datetime import timedelta

from sqlalchemy import func, select, update

from tests.helpers import blobs
from vault.extensions import db
from vault.models import Reservation, ResumableUpload, User, utcnow

URL = "/api/v1/uploads"
TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"


def encoded(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def metadata(**values: str) -> str:
    return ",".join(f"{key} {encoded(value)}" for key, value in values.items())


class Tus:
    """A tus client over the Flask test client, for one user."""

    def __init__(self, client, headers):
        self.client, self.headers = client, {**headers, **TUS}

    def create(self, length, filename="notes.txt", headers=None, data=None, **options):
        return self.client.post(
            URL,
            data=data,
            headers={
                **self.headers,
                "Upload-Length": str(length),
                "Upload-Metadata": metadata(filename=filename, **options),
                **(headers or {}),
            },
        )

    def start(self, length, filename="notes.txt", **options) -> str:
        """Create an upload and return its URL."""
        response = self.create(length, filename, **options)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.headers["Location"]

    def head(self, url, headers=None):
        return self.client.head(url, headers={**self.headers, **(headers or {})})

    def patch(self, url, data: bytes, offset: int, headers=None, **request):
        return self.client.patch(
            url,
            data=data,
            headers={
                **self.headers,
                "Upload-Offset": str(offset),
                "Content-Type": OFFSET_STREAM,
                **(headers or {}),
            },
            **request,
        )

    def delete(self, url):
        return self.client.delete(url, headers=self.headers)

    def offset(self, url) -> int:
        response = self.head(url)
        assert response.status_code == 200, response.status_code
        return int(response.headers["Upload-Offset"])


def upload_id(url: str) -> str:
    return url.rsplit("/", 1)[1]


def state(app, user) -> dict:
    """What a user holds: counters, reservations, unfinished uploads, files on disk.

    Complete uploads keep their row until they expire, holding nothing:
    `completed` counts those.
    """
    with app.app_context():
        owner = db.session.get(User, user.id)
        return {
            "used": owner.used_bytes,
            "reserved": owner.reserved_bytes,
            "reservations": db.session.scalar(
                select(func.count()).select_from(Reservation)
            ),
            "uploads": db.session.scalar(
                select(func.count())
                .select_from(ResumableUpload)
                .where(ResumableUpload.file_id.is_(None))
            ),
            "blobs": len(blobs(app)),
        }


NOTHING = {"used": 0, "reserved": 0, "reservations": 0, "uploads": 0, "blobs": 0}


def set_upload(app, url, **values) -> None:
    with app.app_context():
        db.session.execute(
            update(ResumableUpload)
            .where(ResumableUpload.id == upload_id(url))
            .values(**values)
        )
        db.session.commit()


def expire(app, url) -> None:
    """Let an upload and its reservation run out, as a day without bytes would."""
    past = utcnow() - timedelta(minutes=1)
    set_upload(app, url, expires_at=past)
    with app.app_context():
        reservation_id = db.session.get(ResumableUpload, upload_id(url)).reservation_id
        db.session.execute(
            update(Reservation)
            .where(Reservation.id == reservation_id)
            .values(expires_at=past)
        )
        db.session.commit()
