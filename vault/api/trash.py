from flask import g

from vault.api.blueprint import bp, timestamp
from vault.services import trash


def trash_json(item: trash.TrashItem) -> dict:
    node = item.node
    return {
        "id": node.id,
        "type": "folder" if node.is_folder else "file",
        "name": node.name,
        "size": item.size,
        "original_path": node.trashed_from or "",
        "trashed_at": timestamp(node.trashed_at),
    }


@bp.get("/trash")
def list_trash():
    return {"items": [trash_json(item) for item in trash.list_trash(g.api_user)]}


@bp.post("/trash/<item_id>/restore")
def restore(item_id):
    node = trash.restore(g.api_user, item_id)
    return {"id": node.id, "name": node.name, "parent_id": node.parent_id}


@bp.delete("/trash/<item_id>")
def delete_forever(item_id):
    trash.delete_forever(g.api_user, item_id)
    return "", 204


@bp.delete("/trash")
def empty_trash():
    trash.empty_trash(g.api_user)
    return "", 204
