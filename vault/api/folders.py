from flask import g

from vault.api.blueprint import bp, json_body, timestamp
from vault.api.files import apply_changes, file_json
from vault.errors import BadRequest
from vault.models import Node
from vault.services import trash, tree

# The root has no row; the API names it with this id.
ROOT = "root"


def folder_json(folder: Node) -> dict:
    return {
        "id": folder.id,
        "name": folder.name,
        "parent_id": folder.parent_id,
        "created_at": timestamp(folder.created_at),
    }


@bp.get("/folders/<folder_id>")
def get_folder(folder_id):
    folder = None if folder_id == ROOT else tree.get_folder(g.api_user, folder_id)
    children = tree.list_children(g.api_user, folder, per_page=tree.MAX_LISTING)
    body = (
        folder_json(folder) if folder else {"id": None, "name": "", "parent_id": None}
    )
    body["folders"] = [folder_json(node) for node in children.items if node.is_folder]
    body["files"] = [file_json(node) for node in children.items if not node.is_folder]
    return body


@bp.post("/folders")
def create_folder():
    body = json_body()
    name, parent_id = body.get("name"), body.get("parent_id")
    if not isinstance(name, str):
        raise BadRequest("“name” must be a string.")
    if parent_id is not None and not isinstance(parent_id, str):
        raise BadRequest("“parent_id” must be a folder id or null.")
    parent = tree.get_folder(g.api_user, parent_id)
    return folder_json(tree.create_folder(g.api_user, name, parent)), 201


@bp.patch("/folders/<folder_id>")
def update_folder(folder_id):
    folder = tree.get_folder(g.api_user, folder_id)
    apply_changes(folder, json_body(), "parent_id")
    return folder_json(folder)


@bp.delete("/folders/<folder_id>")
def delete_folder(folder_id):
    trash.trash(g.api_user, [tree.get_folder(g.api_user, folder_id).id])
    return "", 204
