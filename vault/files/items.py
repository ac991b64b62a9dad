"""Acting on files and folders: rename, move, delete to trash, zip."""

from flask import flash, redirect, render_template, request
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from vault.downloads import send_zip
from vault.errors import BadRequest, VaultError
from vault.files.blueprint import bp, folder_url, selected_ids
from vault.files.forms import MoveForm, RenameForm
from vault.services import archives, files, trash, tree

ROOT_CHOICE = ""


@bp.route("/items/<node_id>/rename", methods=["GET", "POST"])
@login_required
def rename(node_id):
    node = tree.get_node(current_user, node_id)
    form = RenameForm(name=node.name)
    status = 200
    if form.validate_on_submit():
        try:
            files.rename(current_user, node, form.name.data)
        except VaultError as error:
            form.name.errors.append(error.message)
            status = error.status
        else:
            flash(f"Renamed to “{node.name}”.", "success")
            return redirect(folder_url(node.parent_id))
    elif request.method == "POST":
        status = 400
    return render_template("files/rename.html", node=node, form=form), status


def _move_choices(nodes) -> list[SelectChoice]:
    # A folder cannot go into itself or below itself: leave those out.
    moving = [node.id for node in nodes if node.is_folder]
    paths = tree.folder_paths(current_user)
    blocked = {paths[folder_id] for folder_id in moving if folder_id in paths}
    choices = [SelectChoice(ROOT_CHOICE, "My files (top level)")]
    for folder_id, path in sorted(paths.items(), key=lambda item: item[1].casefold()):
        if not any(path == top or path.startswith(top + "/") for top in blocked):
            choices.append(SelectChoice(folder_id, path))
    return choices


@bp.route("/move", methods=["GET", "POST"])
@login_required
def move():
    nodes = [tree.get_node(current_user, node_id) for node_id in selected_ids()]
    if not nodes:
        raise BadRequest("Pick at least one file or folder to move.")
    form = MoveForm()
    form.target.choices = _move_choices(nodes)
    # The selection toolbar posts only the ids: show the choice of folders.
    choosing = "target" in request.form
    status = 400 if choosing else 200
    if choosing and form.validate_on_submit():
        target = tree.get_folder(current_user, form.target.data or None)
        try:
            tree.move_nodes(current_user, nodes, target)
        except VaultError as error:
            form.target.errors.append(error.message)
            status = error.status
        else:
            flash(f"Moved {_count(nodes)}.", "success")
            return redirect(folder_url(target.id if target else None))
    page = render_template("files/move.html", nodes=nodes, form=form)
    return page, status


@bp.post("/items/trash")
@login_required
def trash_items():
    ids = selected_ids()
    if not ids:
        raise BadRequest("Pick at least one file or folder to delete.")
    trash.trash(current_user, ids)
    flash(f"Moved {_count(ids)} to the trash.", "success")
    back = tree.find_folder(current_user, request.form.get("folder_id"))
    return redirect(folder_url(back.id if back else None))


# POST serves the toolbar without JavaScript (its form carries the CSRF token,
# which must not land in a URL); GET serves links.
@bp.route("/zip", methods=["GET", "POST"])
@login_required
def zip_selection():
    nodes, entries = archives.entries_for(current_user, selected_ids())
    folder = tree.find_folder(current_user, request.values.get("folder_id"))
    return send_zip(archives.archive_name(nodes, folder), entries)


@bp.get("/folders/<folder_id>/zip")
@login_required
def zip_folder(folder_id):
    folder = tree.get_folder(current_user, folder_id)
    nodes, entries = archives.entries_for(current_user, [folder.id])
    return send_zip(archives.archive_name(nodes, None), entries)


def _count(items) -> str:
    return f"{len(items)} item{'s' if len(items) != 1 else ''}"
