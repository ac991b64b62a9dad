"""Browsing: folder pages, uploading, new folders, search."""

from flask import flash, redirect, render_template, request
from flask_login import current_user, login_required

from vault.errors import VaultError
from vault.files.blueprint import bp, folder_url, listing_args
from vault.files.forms import FolderForm, UploadForm
from vault.http_uploads import (
    MULTIPART_FRAMING,
    SITE_FORM,
    received_files,
    upload_entry,
)
from vault.services import files, thumbnails, tree
from vault.services.uploads import UploadReceiver

PAGE_SIZE = 200


def _folder_page(folder, status=200, **forms):
    args = listing_args()
    listing = tree.list_children(current_user, folder, per_page=PAGE_SIZE, **args)
    forms.setdefault("upload_form", UploadForm(folder_id=folder.id if folder else ""))
    forms.setdefault("folder_form", FolderForm(parent_id=folder.id if folder else ""))
    html = render_template(
        "files/folder.html",
        folder=folder,
        crumbs=tree.ancestors(folder),
        listing=listing,
        has_thumbnail=thumbnails.has_thumbnail,
        **args,
        **forms,
    )
    return html, status


@bp.get("/")
@login_required
def index():
    return _folder_page(None)


@bp.get("/folders/<folder_id>")
@login_required
def folder(folder_id):
    return _folder_page(tree.get_folder(current_user, folder_id))


def _receiver():
    return UploadReceiver(current_user, request.content_length, MULTIPART_FRAMING)


@bp.post("/upload")
@login_required
@upload_entry(_receiver, csrf=SITE_FORM)
def upload(receiver):
    form = UploadForm()
    target = tree.get_folder(current_user, form.folder_id.data)
    if not form.validate_on_submit():
        return _folder_page(target, form.refusal_status, upload_form=form)
    uploads = received_files(form.files.data)
    try:
        stored = files.store_uploads(
            current_user,
            uploads,
            folder=target,
            on_conflict=form.on_conflict.data,
            reservation_id=receiver.reservation_id,
        )
    except VaultError as error:
        form.files.errors.append(error.message)
        return _folder_page(target, error.status, upload_form=form)
    flash(_uploaded_message(uploads, stored), "success")
    return redirect(folder_url(target.id if target else None))


def _uploaded_message(uploads, stored) -> str:
    # A name loses separators and control characters, or gets a number to keep
    # both: the person is told the name it was saved under.
    count = len(stored)
    message = f"Uploaded {count} file{'s' if count != 1 else ''}."
    changed = [
        f"“{file.name}”"
        for (sent, _), file in zip(uploads, stored, strict=True)
        if file.name != sent
    ]
    if changed:
        message += f" Saved under a changed name: {', '.join(changed)}."
    return message


@bp.post("/folders")
@login_required
def create_folder():
    form = FolderForm()
    parent = tree.get_folder(current_user, form.parent_id.data)
    if not form.validate_on_submit():
        return _folder_page(parent, 400, folder_form=form)
    try:
        created = tree.create_folder(current_user, form.name.data, parent)
    except VaultError as error:
        form.name.errors.append(error.message)
        return _folder_page(parent, error.status, folder_form=form)
    flash(f"Created the folder “{created.name}”.", "success")
    return redirect(folder_url(parent.id if parent else None))


@bp.get("/search")
@login_required
def search():
    query = request.args.get("q", "")
    results = tree.search(current_user, query) if query.strip() else []
    return render_template(
        "files/search.html",
        query=query,
        results=results,
        paths=tree.folder_paths(current_user) if results else {},
        has_thumbnail=thumbnails.has_thumbnail,
    )
