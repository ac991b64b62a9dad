"""Rows the vault keeps for its own running: settings it recorded, and mail
waiting to be sent. Data only, as in vault/models.py."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vault.extensions import db
from vault.models import utcnow


class Setting(db.Model):
    """A setting the vault recorded itself, shared by every app server.

    `storage.url` is where `flask storage migrate` switched the bytes to (read
    at start, see vault/storage/switch.py); `storage.previous_url` where they
    were before.
    """

    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMail(db.Model):
    """A mail for the background sender (services/outbox.py); never a secret:
    a reset link's token is made as it is sent. Deleted once the server took it.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    # As typed ("Forgot your password?"), or an email change's old address.
    to_address: Mapped[str | None] = mapped_column(String(254))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    share_id: Mapped[str | None] = mapped_column(
        ForeignKey("share_links.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    send_after: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    # Held by the process sending it, so that no two send one mail.
    locked_until: Mapped[datetime | None]
