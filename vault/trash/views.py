"""The trash page: restore, delete for good, empty."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from vault.auth.forms import ConfirmForm
from vault.files.blueprint import folder_url
from vault.services import trash

bp = Blueprint("trash", __name__, url_prefix="/trash")


@bp.get("/")
@login_required
def index():
    return render_template(
        "trash/index.html", items=trash.list_trash(current_user), form=ConfirmForm()
    )


@bp.post("/<item_id>/restore")
@login_required
def restore(item_id):
    node = trash.restore(current_user, item_id)
    flash(f"Restored “{node.name}”.", "success")
    return redirect(folder_url(node.parent_id))


@bp.route("/<item_id>/delete", methods=["GET", "POST"])
@login_required
def delete(item_id):
    item = trash.get_trashed(current_user, item_id)
    if request.method == "GET":
        return render_template("trash/delete.html", item=item, form=ConfirmForm())
    name = item.name  # the row is gone after the next line
    trash.delete_forever(current_user, item.id)
    flash(f"“{name}” was deleted for good.", "success")
    return redirect(url_for("trash.index"))


@bp.route("/empty", methods=["GET", "POST"])
@login_required
def empty():
    if request.method == "GET":
        return render_template("trash/empty.html", form=ConfirmForm())
    trash.empty_trash(current_user)
    flash("The trash is empty.", "success")
    return redirect(url_for("trash.index"))
