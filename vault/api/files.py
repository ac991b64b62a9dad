import re

from flask import g, request

from vault.api.blueprint import bp, json_body, timestamp
from vault.downloads import send_stored_file
from vault.errors import BadRequest
from vault.http_uploads import MULTIPART_FRAMING, received_files, upload_entry
from vault.models import Node
from vault.services import files, trash, tree
from vault.services.uploads import UploadReceiver

MAX_PAGE = 1000


def file_json(file: Node) -> dict:
    return {
        "id": file.id,
        "name": file.name,
        "size": file.size,
        "sha256": file.sha256,
        "content_type": file.content_type,
        "folder_id": file.parent_id,
        "created_at": timestamp(file.created_at),
    }


def _receiver():
    return UploadReceiver(g.api_user, request.content_length, MULTIPART_FRAMING)


@bp.post("/files")
@upload_entry(_receiver)
def upload_files(receiver):
    parts = request.files.getlist("file")
    if not parts:
        raise BadRequest("Send the file as one or more multipart parts named “file”.")
    stored = files.store_uploads(
        g.api_user,
        received_files(parts),
        folder=tree.get_folder(g.api_user, request.form.get("folder_id")),
        path=request.form.get("path", ""),
        on_conflict=request.form.get("on_conflict", "rename"),
        reservation_id=receiver.reservation_id,
    )
    return {"files": [file_json(file) for file in stored]}, 201


@bp.get("/files")
def list_files():
    limit = request.args.get("limit", "100")
    if not re.fullmatch(r"[0-9]{1,4}", limit) or not 1 <= int(limit) <= MAX_PAGE:
        raise BadRequest(f"“limit” must be a whole number from 1 to {MAX_PAGE}.")
    page, next_cursor = files.list_files(
        g.api_user, int(limit), request.args.get("cursor") or None
    )
    return {"files": [file_json(file) for file in page], "next_cursor": next_cursor}


@bp.get("/files/<file_id>")
def get_file(file_id):
    return file_json(files.get_file(g.api_user, file_id))


@bp.get("/files/<file_id>/content")
def file_content(file_id):
    return send_stored_file(files.get_file(g.api_user, file_id))


@bp.patch("/files/<file_id>")
def update_file(file_id):
    file = files.get_file(g.api_user, file_id)
    apply_changes(file, json_body(), "folder_id")
    return file_json(file)


@bp.delete("/files/<file_id>")
def delete_file(file_id):
    trash.trash(g.api_user, [files.get_file(g.api_user, file_id).id])
    return "", 204


def apply_changes(node: Node, body: dict, parent_field: str) -> None:
    """Rename and/or move a node from a PATCH body, all or none."""
    name = body.get("name")
    if "name" in body and not isinstance(name, str):
        raise BadRequest("“name” must be a string.")
    target = files.UNCHANGED
    if parent_field in body:
        target_id = body[parent_field]
        if target_id is not None and not isinstance(target_id, str):
            raise BadRequest(f"“{parent_field}” must be a folder id or null.")
        target = tree.get_folder(g.api_user, target_id)
    files.update_item(g.api_user, node, name=name, target=target)
