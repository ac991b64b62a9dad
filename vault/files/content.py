"""A file's bytes: download, inline view, the viewer page and thumbnails."""

from flask import render_template
from flask_login import current_user, login_required

from vault.downloads import send_stored_file, send_thumbnail
from vault.files.blueprint import bp
from vault.services import files, filetypes, thumbnails, tree


@bp.get("/files/<file_id>/download")
@login_required
def download(file_id):
    return send_stored_file(files.get_file(current_user, file_id))


@bp.get("/files/<file_id>/view")
@login_required
def view(file_id):
    return send_stored_file(files.get_file(current_user, file_id), inline=True)


@bp.get("/files/<file_id>/preview")
@login_required
def preview(file_id):
    file = files.get_file(current_user, file_id)
    return render_template(
        "files/preview.html",
        file=file,
        kind=filetypes.preview_kind(file.name, file.content_type),
        crumbs=tree.ancestors(tree.find_folder(current_user, file.parent_id)),
    )


@bp.get("/files/<file_id>/thumbnail")
@login_required
def thumbnail(file_id):
    file = files.get_file(current_user, file_id)
    return send_thumbnail(file, thumbnails.thumbnail_key(current_user, file))
