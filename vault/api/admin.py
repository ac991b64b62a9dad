"""Administration in the API: accounts, for administrators only."""

from flask import g, request

from vault.api.blueprint import bp, json_body, timestamp
from vault.errors import BadRequest, NotFound
from vault.models import User
from vault.services import admin, admin_overview
from vault.text import page_number

PATCH_FIELDS = {"quota_bytes", "disabled", "is_admin"}


def _admin() -> User:
    # Not found rather than forbidden: the API does not tell non-admins that
    # these routes exist.
    if not g.api_user.is_admin:
        raise NotFound()
    return g.api_user


def user_json(user: User, file_count: int) -> dict:
    return {
        "id": user.id,
        "email": user.email,
        "is_admin": user.is_admin,
        "disabled": user.disabled,
        "used_bytes": user.charged_bytes,
        "quota_bytes": user.quota_bytes,
        "file_count": file_count,
        "last_login_at": timestamp(user.last_login_at),
        "created_at": timestamp(user.created_at),
    }


def _page_argument() -> int:
    page = page_number(request.args.get("page", "1"))
    if page is None:
        raise BadRequest("“page” must be a whole number of at least 1.")
    return page


@bp.get("/admin/users")
def list_users():
    _admin()
    page = admin_overview.list_users(
        query=request.args.get("q", ""),
        sort=request.args.get("sort", "usage"),
        descending=request.args.get("order", "desc") != "asc",
        page=_page_argument(),
    )
    return {
        "users": [user_json(row.user, row.file_count) for row in page.rows],
        "page": page.page,
        "pages": page.pages,
        "total": page.total,
    }


def _changes(body: dict) -> dict:
    """Refuse unknown fields; admin.update_user checks the types and values."""
    unknown = set(body) - PATCH_FIELDS
    if unknown:
        raise BadRequest(f"Unknown fields: {', '.join(sorted(unknown))}.")
    return body


@bp.patch("/admin/users/<user_id>")
def update_user(user_id):
    actor = _admin()
    user = admin_overview.get_user(user_id)  # a missing user: 404 before any 400
    user = admin.update_user(actor, user, **_changes(json_body()))
    return user_json(user, admin_overview.live_file_count(user))
