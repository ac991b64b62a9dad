from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from vault.auth.forms import ConfirmForm
from vault.downloads import send_stored_file
from vault.errors import VaultError
from vault.extensions import csrf
from vault.files.forms import UploadForm
from vault.services import files
from vault.services.uploads import UploadReceiver

bp = Blueprint("files", __name__)

PAGE_SIZE = 100


def _index_page(upload_form=None, status=200):
    page, next_cursor = files.list_files(
        current_user, PAGE_SIZE, request.args.get("cursor")
    )
    html = render_template(
        "files/index.html",
        files=page,
        next_cursor=next_cursor,
        upload_form=upload_form or UploadForm(),
    )
    return html, status


@bp.get("/")
@login_required
def index():
    return _index_page()


# CSRF is checked by the form itself: the global check would parse the body
# before the upload receiver is in place, and the files would be dropped.
@bp.post("/upload")
@csrf.exempt
@login_required
def upload():
    with UploadReceiver(current_user) as receiver:
        request.upload_receiver = receiver
        form = UploadForm()
        if not form.validate_on_submit():
            return _index_page(form, form.refusal_status)
        uploads = [(upload.filename, upload.stream) for upload in form.files.data]
        try:
            stored = files.store_uploads(current_user, uploads)
        except VaultError as error:
            form.files.errors.append(error.message)
            return _index_page(form, error.status)
    count = len(stored)
    flash(f"Uploaded {count} file{'s' if count != 1 else ''}.", "success")
    return redirect(url_for("files.index"))


@bp.get("/files/<file_id>/download")
@login_required
def download(file_id):
    return send_stored_file(files.get_file(current_user, file_id))


@bp.get("/files/<file_id>/view")
@login_required
def view(file_id):
    return send_stored_file(files.get_file(current_user, file_id), inline=True)


@bp.route("/files/<file_id>/delete", methods=["GET", "POST"])
@login_required
def delete(file_id):
    file = files.get_file(current_user, file_id)
    if request.method == "GET":
        return render_template("files/delete.html", file=file, form=ConfirmForm())
    files.delete_file(current_user, file.id)
    flash(f"“{file.name}” was deleted.", "success")
    return redirect(url_for("files.index"))
