"""The bytes behind a link: downloads, previews, thumbnails and zips."""

from flask import current_app

from vault.downloads import send_stored_file, send_thumbnail, send_zip
from vault.errors import NotFound
from vault.models import ShareLink
from vault.public.blueprint import bp, open_link, visitor
from vault.services import access, filetypes, share_access, thumbnails


class LinkDownload:
    """Charge what a visitor fetches to the link's limit (see send_blob)."""

    def __init__(self, share: ShareLink, outcome: str, detail: str):
        self._app = current_app._get_current_object()
        self._share, self._share_id = share, share.id
        self._visitor, self._outcome, self._detail = visitor(), outcome, detail
        self.exact = share_access.sent_by_vault(share)
        self._span = share_access.Span(0, 0, 0)

    def claim(self, start: int, stop: int, size: int) -> None:
        self._span = share_access.Span(start, stop, size)
        share_access.start_download(
            self._share, self._span, self._visitor, self._outcome, self._detail
        )

    def settle(self, sent: int) -> None:
        # The server closes the body after the request is over: bring our own
        # app context (and with it a database session).
        with self._app.app_context():
            share_access.stop_download(
                self._share_id, self._span, sent, self._visitor, self._detail
            )


@bp.get("/<token>/download")
def download(token):
    share = open_link(token)
    file = access.resolve(share, share.node_id, kind=access.FILE)
    return send_stored_file(file, counter=LinkDownload(share, "download", file.name))


@bp.get("/<token>/files/<file_id>/download")
def file_download(token, file_id):
    share = open_link(token)
    file = access.resolve(share, file_id, kind=access.FILE)
    return send_stored_file(file, counter=LinkDownload(share, "download", file.name))


@bp.get("/<token>/files/<file_id>/view")
def view(token, file_id):
    share = open_link(token)
    file = access.resolve(share, file_id, kind=access.FILE)
    if filetypes.inline_type(file.name, file.content_type) is None:
        # Inline is for types that cannot run script; anything else would be a
        # download by another name.
        raise NotFound("There is no preview for this file.")
    # On a limited link what a preview fetches counts, like a download:
    # otherwise the limit would not hold for previewable types.
    counter = (
        LinkDownload(share, "download", file.name) if share.max_downloads else None
    )
    return send_stored_file(file, inline=True, counter=counter)


@bp.get("/<token>/files/<file_id>/thumbnail")
def thumbnail(token, file_id):
    share = open_link(token)
    file = access.resolve(share, file_id, kind=access.FILE)
    return send_thumbnail(file, thumbnails.thumbnail_key(share, file))


@bp.get("/<token>/zip")
def zip_all(token):
    share = open_link(token)
    return _zip(share, share.node_id)


@bp.get("/<token>/f/<folder_id>/zip")
def zip_folder(token, folder_id):
    share = open_link(token)
    return _zip(share, folder_id)


def _zip(share, folder_id):
    name, entries = share_access.zip_entries(share, folder_id)
    return send_zip(name, entries, counter=LinkDownload(share, "zip", name))
