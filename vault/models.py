"""Database models: data and small derived properties, no I/O."""

import secrets
from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, and_, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vault.extensions import db


def utcnow() -> datetime:
    """Return the current UTC time as a naive datetime, as stored in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    """Return a random object id: 128 bits, hex so it is safe as a directory name."""
    return secrets.token_hex(16)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    disabled: Mapped[bool] = mapped_column(default=False)
    # None means unlimited.
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # Bytes of stored files, live and trashed.
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Bytes held for uploads still arriving: the sum of the user's reservations.
    reserved_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Mail the person may turn off (security notices cannot be).
    notify_uploads: Mapped[bool] = mapped_column(default=True)

    nodes: Mapped[list["Node"]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login identifies a login by its server-side session, not by the user:
    # the auth layer sets this to the session's token so revoking the session row
    # invalidates every copy of the cookie (and of the remember-me cookie).
    session_token = None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return not self.disabled

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def charged_bytes(self) -> int:
        """Everything counted against the quota: stored and still arriving."""
        return self.used_bytes + self.reserved_bytes

    @property
    def free_bytes(self) -> int | None:
        if self.quota_bytes is None:
            return None
        return max(0, self.quota_bytes - self.charged_bytes)


class UserSession(db.Model):
    """A signed-in browser; deleting the row signs that browser out."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    user_agent: Mapped[str] = mapped_column(String(255), default="")

    user: Mapped[User] = relationship()


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the secret: a database leak must not hand out working tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Node(db.Model):
    """A file or a folder in a person's tree.

    The tree lives here only: rename, move and trash change rows, never bytes.
    Files and folders share one table so that names are unique across both
    within a folder, enforced by the database.
    """

    __tablename__ = "nodes"
    __table_args__ = (
        # Unique live names per folder, case-insensitively; trashed items do not
        # hold on to their names.
        Index(
            "uq_nodes_live_name",
            "parent_key",
            "name_key",
            unique=True,
            sqlite_where=text("trashed_at IS NULL"),
            postgresql_where=text("trashed_at IS NULL"),
        ),
        Index("ix_nodes_owner_created", "owner_id", "created_at", "id"),
        # The usage bar on every page sums the trash: read only trashed rows.
        Index(
            "ix_nodes_owner_trashed",
            "owner_id",
            "trashed_at",
            sqlite_where=text("trashed_at IS NOT NULL"),
            postgresql_where=text("trashed_at IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # None is the owner's root. A purged parent leaves trashed children parentless;
    # they go back by `trashed_from`.
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("nodes.id", ondelete="SET NULL"), index=True
    )
    # parent_id, or owner_id at the root: a non-null key for the unique index.
    parent_key: Mapped[str] = mapped_column(String(32))
    is_folder: Mapped[bool] = mapped_column(default=False)
    # Display name only: it never reaches a filesystem path (see storage_key).
    name: Mapped[str] = mapped_column(String(255))
    name_key: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(255))
    storage_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    thumbnail_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Trash: every node deleted together shares trash_root_id, the id of the
    # node the person deleted; that node remembers the folder path it was in.
    trashed_at: Mapped[datetime | None] = mapped_column(index=True)
    trash_root_id: Mapped[str | None] = mapped_column(String(32), index=True)
    trashed_from: Mapped[str | None] = mapped_column(Text)

    owner: Mapped[User] = relationship(back_populates="nodes")

    @property
    def etag(self) -> str | None:
        return self.sha256

    @property
    def is_trash_root(self) -> bool:
        return self.trashed_at is not None and self.trash_root_id == self.id


class ShareLink(db.Model):
    """A secret link to one file or folder (or, for kind "upload", into a folder).

    The link's token is never stored: it is derived from the app's secret key
    and the link's id (see services/shares.py), and only its hash is kept for
    lookup, so a copy of the database alone opens no link.
    """

    __tablename__ = "share_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The object, never a path: renames and moves keep the link working. None
    # once the item is deleted for good: the link then answers 410, not 404.
    node_id: Mapped[str | None] = mapped_column(
        ForeignKey("nodes.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="download")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    password_hash: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
    max_downloads: Mapped[int | None]
    # What visitors have fetched, in millionths of a download: bytes count, not
    # requests (see services/share_downloads.py).
    download_units: Mapped[int] = mapped_column(BigInteger, default=0)
    # Upload links ("file requests") only.
    max_file_size: Mapped[int | None] = mapped_column(BigInteger)
    max_files: Mapped[int | None]
    upload_count: Mapped[int] = mapped_column(default=0)
    # Extensions the link accepts, space-separated ("docx jpg pdf"); None: any.
    allowed_types: Mapped[str | None] = mapped_column(Text)
    # When the latest notice of uploads goes (or went) to the owner; the next
    # one waits UPLOAD_NOTICE_MINUTES after it (services/notices.py).
    upload_notice_at: Mapped[datetime | None]

    node: Mapped[Node | None] = relationship()
    owner: Mapped[User] = relationship()

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @property
    def is_upload(self) -> bool:
        return self.kind == "upload"

    @property
    def allowed_extensions(self) -> frozenset[str]:
        """Return the extensions an upload link accepts; empty means any."""
        return frozenset((self.allowed_types or "").split())

    @classmethod
    def open_at(cls, now: datetime):
        """The condition, in SQL, that a link is neither revoked nor expired."""
        return and_(cls.revoked_at.is_(None), cls.expires_at > now)


class ShareAccess(db.Model):
    """One visit to a link: what happened, when, and a blurred who."""

    __tablename__ = "share_accesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    share_id: Mapped[str] = mapped_column(
        ForeignKey("share_links.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(32))
    # A /24 (IPv4) or /48 (IPv6) network, never the full address.
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    # The file concerned (a download in a folder, or an upload), by name.
    detail: Mapped[str | None] = mapped_column(String(255))


class LoginFailure(db.Model):
    """One failed guess, counted per target and per client address (throttle.py)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), index=True)
    # What was tried (a hashed email, a link id): an address is locked out only
    # for failures spread over several of them.
    subject: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Reservation(db.Model):
    """Quota held for an upload whose bytes are still arriving.

    Its size is also added to `User.reserved_bytes`, so one conditional UPDATE
    of the user's row decides whether more may be held. A reservation that is
    not renewed (its worker died) expires and is released by the next sweep.
    """

    __tablename__ = "reservations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class PasswordReset(db.Model):
    """A one-time link an administrator made for someone to set a new password."""

    __tablename__ = "password_resets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the secret in the link, like API tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class AuditEvent(db.Model):
    """One administrative action or security event, kept for the audit log.

    Who and what are copied as text, not linked: the record must outlive the
    accounts and objects it names.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The acting account, or None for the command line and anonymous visitors.
    actor_id: Mapped[str | None] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)
    target_type: Mapped[str | None] = mapped_column(String(20))
    target_id: Mapped[str | None] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(String(255), default="")
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    address: Mapped[str] = mapped_column(String(64), default="")


class ResumableUpload(db.Model):
    """A tus upload whose bytes arrive over several requests.

    Its bytes grow in a partial file in the owner's storage area, named after
    the row's id; `offset` only ever counts bytes already fsynced there. The
    quota for the whole `length` is held from creation by `reservation_id`.
    Once complete, the row stays until it expires, `offset` equal to `length`
    and `file_id` naming the file it became: a client that lost the last
    answer asks again (HEAD) instead of sending the whole file a second time.
    """

    __tablename__ = "resumable_uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    reservation_id: Mapped[str | None] = mapped_column(String(32))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    # Checked and cleaned at creation, like the name of any upload.
    filename: Mapped[str] = mapped_column(String(255))
    folder_id: Mapped[str | None] = mapped_column(String(32))
    # Folders below folder_id ("a/b", created as needed), like the `path` of a
    # multipart upload; checked and cleaned at creation.
    path: Mapped[str] = mapped_column(Text, default="")
    on_conflict: Mapped[str] = mapped_column(String(16), default="rename")
    # The client's Upload-Metadata pairs, base64 values as sent, echoed by HEAD.
    # ("metadata" itself is taken on a declarative model.)
    upload_metadata: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # A lease held by the request writing bytes, so that two PATCHes (in any
    # processes) never append at once; it lapses if that request dies.
    locked_until: Mapped[datetime | None]
    # The file the upload became, set in the transaction that adds it. Not a
    # foreign key: the file may be deleted since, the upload stays complete.
    file_id: Mapped[str | None] = mapped_column(String(32))
