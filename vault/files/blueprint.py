from flask import Blueprint, request, url_for

from vault.text import page_number

bp = Blueprint("files", __name__)

SORTS = ("name", "size", "date")


def folder_url(folder_id: str | None, **args) -> str:
    if folder_id:
        return url_for("files.folder", folder_id=folder_id, **args)
    return url_for("files.index", **args)


def listing_args() -> dict:
    """Read sort, order and page from the query string, forgiving bad values."""
    sort = request.args.get("sort", "name")
    return {
        "sort": sort if sort in SORTS else "name",
        "descending": request.args.get("order") == "desc",
        "page": page_number(request.args.get("page", "1")) or 1,
    }


def selected_ids() -> list[str]:
    # A row's own button sends "id"; the selection checkboxes send "ids".
    return request.values.getlist("id") or request.values.getlist("ids")
