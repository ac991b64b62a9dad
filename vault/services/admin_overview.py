"""What administrators see: accounts found and listed, and the vault's totals.

Every admin front end (pages, API, CLI) reads accounts through here; changing
them is services/admin.py.
"""

from dataclasses import dataclass

from sqlalchemy import case, func, select

from vault.errors import BadRequest, NotFound
from vault.extensions import db
from vault.models import Node, User
from vault.services import quotas
from vault.services.audit import page_numbers
from vault.storage import get_storage
from vault.storage.base import Capacity
from vault.text import is_object_id

USER_SORTS = ("usage", "email", "quota", "files", "last_login", "created")

LIVE_FILE = (Node.is_folder.is_(False), Node.trashed_at.is_(None))
TRASHED_FILE = (Node.is_folder.is_(False), Node.trashed_at.is_not(None))


@dataclass
class UserRow:
    user: User
    file_count: int  # live (not trashed) files


@dataclass
class UserPage:
    rows: list[UserRow]
    page: int  # 1-based
    pages: int
    total: int


@dataclass
class Totals:
    users: int
    files: int  # live files
    stored_bytes: int  # sum of users.used_bytes (live + trash)
    trash_bytes: int  # bytes of trashed files
    # Where the blobs go, if the store can tell (a disk can; a bucket cannot).
    disk_free_bytes: int | None
    disk_total_bytes: int | None


def _file_counts():
    return (
        select(Node.owner_id, func.count().label("files"))
        .where(*LIVE_FILE)
        .group_by(Node.owner_id)
        .subquery()
    )


def _sort_keys(sort: str, files, descending: bool) -> list:
    """Return ORDER BY terms; NULLs are placed by hand, the same on every database."""
    if sort not in USER_SORTS:
        raise BadRequest(f"Sort by one of: {', '.join(USER_SORTS)}.")
    if sort == "quota":
        # Unlimited is more than any quota.
        keys = [case((User.quota_bytes.is_(None), 1), else_=0), User.quota_bytes]
    elif sort == "last_login":
        # Never signed in comes before any sign-in.
        keys = [case((User.last_login_at.is_(None), 0), else_=1), User.last_login_at]
    else:
        keys = [
            {
                "usage": User.used_bytes + User.reserved_bytes,
                "email": User.email,
                "files": func.coalesce(files.c.files, 0),
                "created": User.created_at,
            }[sort]
        ]
    ordered = [key.desc() if descending else key.asc() for key in keys]
    # A stable tie-break, so pages do not overlap.
    return [*ordered, User.email.asc(), User.id.asc()]


def list_users(
    query: str = "",
    sort: str = "usage",
    descending: bool = True,
    page: int = 1,
    per_page: int = 50,
) -> UserPage:
    """Return one page of accounts with their live file counts, in one query.

    `query` matches part of the email, ignoring case. Raises BadRequest for an
    unknown sort.
    """
    per_page = max(1, per_page)
    files = _file_counts()
    where = []
    if query.strip():
        where.append(
            func.lower(User.email).contains(query.strip().lower(), autoescape=True)
        )
    order = _sort_keys(sort, files, descending)
    total = db.session.scalar(select(func.count()).select_from(User).where(*where))
    page, pages = page_numbers(total, page, per_page)
    rows = db.session.execute(
        select(User, func.coalesce(files.c.files, 0))
        .outerjoin(files, files.c.owner_id == User.id)
        .where(*where)
        .order_by(*order)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return UserPage(
        rows=[UserRow(user, int(count)) for user, count in rows],
        page=page,
        pages=pages,
        total=total,
    )


def totals() -> Totals:
    """Return what the whole vault holds, and the room left where it is kept."""
    store = get_storage()
    free, total = store.capacity() if isinstance(store, Capacity) else (None, None)
    return Totals(
        users=db.session.scalar(select(func.count()).select_from(User)),
        files=db.session.scalar(select(func.count()).where(*LIVE_FILE)),
        stored_bytes=db.session.scalar(select(quotas.total_bytes(User.used_bytes))),
        trash_bytes=db.session.scalar(
            select(quotas.total_bytes(Node.size)).where(*TRASHED_FILE)
        ),
        disk_free_bytes=free,
        disk_total_bytes=total,
    )


def get_user(user_id: str) -> User:
    """Return an account by id; NotFound for a missing or malformed id."""
    user = db.session.get(User, user_id) if is_object_id(user_id or "") else None
    if user is None:
        raise NotFound("No such user.")
    return user


def get_user_by_email(email: str) -> User:
    """Return an account by email, ignoring case; NotFound if there is none."""
    user = db.session.scalar(
        select(User).where(User.email == (email or "").strip().lower())
    )
    if user is None:
        raise NotFound(f"There is no account with the email {email}.")
    return user


def live_file_count(user: User) -> int:
    return db.session.scalar(
        select(func.count()).where(Node.owner_id == user.id, *LIVE_FILE)
    )
