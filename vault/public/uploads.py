"""Upload-only links ("file requests"): strangers send files into a folder."""

from flask import flash, jsonify, redirect, request, url_for

from vault.errors import VaultError
from vault.http_uploads import (
    LINK_FORM,
    MULTIPART_FRAMING,
    received_files,
    upload_entry,
)
from vault.public.blueprint import bp, open_link, visitor, wants_json
from vault.public.forms import SendFilesForm
from vault.public.pages import send_files_page
from vault.services import share_uploads


def _receiver(token):
    # The link is checked before a byte of the body is read.
    share = open_link(token, kind="upload")
    return share_uploads.LinkUploadReceiver(
        share, request.content_length, MULTIPART_FRAMING
    )


@bp.post("/<token>/upload")
@upload_entry(_receiver, csrf=LINK_FORM)
def upload(receiver, token):
    share = receiver.share
    form = SendFilesForm()
    if not form.validate_on_submit():
        return _refused(share, token, form, form.refusal_status)
    uploads = received_files(form.files.data)
    try:
        names = share_uploads.receive_uploads(
            share,
            uploads,
            visitor(),
            form.sender.data or "",
            reservation_id=receiver.reservation_id,
        )
    except VaultError as error:
        form.files.errors.append(error.message)
        return _refused(share, token, form, error.status, error.code)
    left = share_uploads.files_left(share)
    if wants_json():
        return jsonify(files=[{"name": name} for name in names], files_left=left), 201
    count = f"{len(names)} file{'s' if len(names) != 1 else ''}"
    flash(f"Thank you: {count} sent.", "success")
    return redirect(url_for("public.open", token=token))


def _refused(share, token, form, status, code="refused"):
    if wants_json():
        errors = [error for field in form.errors.values() for error in field]
        message = errors[0] if errors else "The upload was refused."
        return jsonify(error={"code": code, "message": message}), status
    return send_files_page(share, token, form, status)
