"""The pages of a link: the shared file or folder, its password form."""

from flask import redirect, render_template

from vault.errors import VaultError
from vault.extensions import csrf
from vault.files.blueprint import listing_args
from vault.front_ends import retry_after
from vault.public.blueprint import (
    bp,
    is_unlocked,
    open_link,
    remember_unlock,
    safe_next,
    unlock_page,
    visitor,
)
from vault.public.forms import SendFilesForm, UnlockForm
from vault.services import (
    access,
    filetypes,
    share_access,
    share_uploads,
    thumbnails,
    tree,
)

PAGE_SIZE = 200


@bp.get("/<token>", endpoint="open")
def open_page(token):
    share = open_link(token, kind=None, unlocked=False)
    if not is_unlocked(share):
        return unlock_page(share)
    share_access.log_access(share, "view", visitor())
    if share.is_upload:
        return send_files_page(share, token, SendFilesForm())
    node = access.resolve(share, share.node_id)
    if node.is_folder:
        return _folder_page(share, token, node)
    return _file_page(share, token, node)


@bp.get("/<token>/f/<folder_id>")
def folder(token, folder_id):
    share = open_link(token)
    node = access.resolve(share, folder_id, kind=access.FOLDER)
    share_access.log_access(share, "view", visitor(), node.name)
    return _folder_page(share, token, node)


@bp.get("/<token>/files/<file_id>")
def file_page(token, file_id):
    share = open_link(token)
    file = access.resolve(share, file_id, kind=access.FILE)
    share_access.log_access(share, "view", visitor(), file.name)
    return _file_page(share, token, file)


def _folder_page(share, token, node):
    args = listing_args()
    listing = tree.list_children(share, node, per_page=PAGE_SIZE, **args)
    return render_template(
        "public/folder.html",
        share=share,
        token=token,
        folder=node,
        crumbs=share_access.crumbs(share, node),
        listing=listing,
        has_thumbnail=thumbnails.has_thumbnail,
        **args,
    )


def _file_page(share, token, file):
    parent = None
    if file.id != share.node_id:
        parent = access.resolve(share, file.parent_id, kind=access.FOLDER)
    # A preview fetches the whole file: on a link with a download limit it
    # would use up downloads, so those links offer the button only.
    kind = None
    if not share.max_downloads:
        kind = filetypes.preview_kind(file.name, file.content_type)
    return render_template(
        "public/file.html",
        share=share,
        token=token,
        file=file,
        kind=kind,
        crumbs=share_access.crumbs(share, parent) if parent else [],
        has_thumbnail=thumbnails.has_thumbnail,
    )


def send_files_page(share, token, form, status=200):
    html = render_template(
        "public/send.html",
        share=share,
        token=token,
        form=form,
        size_limit=share_uploads.upload_size_limit(share),
        files_left=share_uploads.files_left(share),
    )
    return html, status


# CSRF is checked by the form's own token, not by the global check: over HTTPS
# that one also demands a Referer from this site, and share pages send none
# (Referrer-Policy: no-referrer), so no visitor could ever unlock a link.
@bp.post("/<token>/unlock")
@csrf.exempt
def unlock(token):
    share = open_link(token, kind=None, unlocked=False)
    form = UnlockForm()
    if not share.has_password:
        return redirect(safe_next(form.next.data, token))
    if not form.validate_on_submit():
        return unlock_page(share, form, 400)
    try:
        stamp = share_access.unlock(share, form.password.data, visitor())
    except VaultError as error:
        form.password.errors.append(error.message)
        response, status = unlock_page(share, form, error.status)
        return response, status, retry_after(error)
    remember_unlock(share, stamp)
    return redirect(safe_next(form.next.data, token))
