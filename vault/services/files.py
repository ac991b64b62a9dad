"""Files: type checks, storing uploads with their names, listing, renaming."""

import base64
import binascii
from collections.abc import Callable
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from vault import faults
from vault.errors import (
    BadRequest,
    Conflict,
    ContentMismatch,
    FileTypeNotAllowed,
    NotFound,
)
from vault.extensions import db
from vault.models import Node, User, utcnow
from vault.services import access, filetypes, names, quotas, trash, tree
from vault.services.access import Principal
from vault.storage import BlobWriter, get_storage
from vault.text import is_object_id

CONFLICT_POLICIES = ("rename", "replace", "fail")
IS_FILE = Node.is_folder.is_(False)


def check_conflict_policy(on_conflict: str) -> None:
    """Refuse what is none of rename, replace, fail; raises BadRequest."""
    if on_conflict not in CONFLICT_POLICIES:
        raise BadRequest("on_conflict must be rename, replace or fail.")


def allowed_extensions() -> frozenset[str]:
    """Return the operator's VAULT_ALLOWED_EXTENSIONS; empty means every type."""
    return filetypes.parse_extensions(current_app.config["ALLOWED_EXTENSIONS"])


def check_name_allowed(name: str) -> str:
    """Return the cleaned name, or raise if the operator's list refuses its type.

    By default the list is empty and every name is allowed, with or without an
    extension: a private vault keeps what its owner keeps. Raises InvalidName or
    FileTypeNotAllowed.
    """
    name = names.clean_display_name(name)
    allowed = allowed_extensions()
    if allowed and filetypes.extension_of(name) not in allowed:
        raise FileTypeNotAllowed(
            f"“{name}” was refused: this server accepts only "
            f"{filetypes.describe_extensions(allowed)}. Its administrator can "
            "change that (VAULT_ALLOWED_EXTENSIONS)."
        )
    return name


def _check_content(name: str, head: bytes) -> None:
    extension = filetypes.extension_of(name)
    if not filetypes.content_matches(extension, head):
        raise ContentMismatch(
            f"“{name}” was refused: its content is not a valid "
            f"{extension.upper()} file."
        )


def store_uploads(
    principal: Principal,
    uploads: list[tuple[str, BlobWriter]],
    *,
    folder: Node | str | None = None,
    path: str = "",
    on_conflict: str = "rename",
    now: datetime | None = None,
    reservation_id: str | None = None,
    before_commit: Callable[[list[Node]], None] | None = None,
) -> list[Node]:
    """Turn received uploads into files in `folder`/`path`, all or none.

    A name already in the folder is renamed "name (1).ext", replaces the old file
    (which goes to the trash), or fails with Conflict, as `on_conflict` says.
    Raises InvalidName, FileTypeNotAllowed, ContentMismatch, Conflict or
    QuotaExceeded; the caller discards the writers (committed blobs are removed
    here). The bytes are charged to the quota, taking over the reservation that
    held them while they arrived, if any. `before_commit` is called with the
    new files (ids set) inside the transaction that adds them, so that what it
    writes commits with them or not at all. The files belong to the account
    the principal acts in; NotFound unless the principal may write `folder`
    (a link writes into its own folder only, so `path` is for users).

    The last step of every upload use case (the form, the API, tus, upload
    links): it commits, or on any error rolls back, the whole transaction.
    """
    if not uploads:
        raise BadRequest("Choose at least one file to upload.")
    check_conflict_policy(on_conflict)
    folder = access.resolve_folder(principal, folder, access.WRITE)
    if path and not isinstance(principal, User):
        raise NotFound("No such folder.")
    user = access.account_of(principal)
    named = []
    for raw_name, writer in uploads:
        name = check_name_allowed(raw_name)
        _check_content(name, writer.head)
        named.append((name, writer))
    now = now or utcnow()
    # Blob first, row second: a crash in between leaves an orphan blob for fsck,
    # never a row pointing at missing bytes.
    try:
        for _, writer in named:
            faults.reach("after-write")
            writer.commit()
        faults.reach("after-rename")
        stored = _add_files(
            user, named, folder, path, on_conflict, now, reservation_id, before_commit
        )
    except BaseException:
        db.session.rollback()
        # Those already in place too (a full disk may refuse the second).
        for _, writer in named:
            get_storage().delete(writer.key)
        raise
    faults.reach("after-commit")
    return stored


def _add_files(
    user, named, folder, path, on_conflict, now, reservation_id, before_commit
):
    """Insert the rows and charge the quota: store_uploads' transaction, which
    this commits, and tries again (rolled back) if a name was taken meanwhile."""
    # Uploads racing for one file or folder name: the unique index stops all but
    # one, and the others try again, now seeing the winner's folder or name.
    for _attempt in range(3):
        try:
            tree.lock_tree(user, folder)
            target = tree.ensure_path(user, folder, path, now)
            size = sum(writer.size for _, writer in named)
            quotas.charge(user, size, reservation_id)
            files, taken = [], set()
            for name, writer in named:
                final = _resolve_conflict(user, target, name, on_conflict, taken, now)
                taken.add(names.name_key(final))
                files.append(_new_file(user, target, final, writer, now))
            db.session.add_all(files)
            if before_commit is not None:
                db.session.flush()
                before_commit(files)
            # store_uploads' one commit; a retry needs a fresh transaction.
            db.session.commit()
            return files
        except IntegrityError:
            db.session.rollback()
    raise Conflict("Other uploads kept taking these names; try again.")


def _resolve_conflict(user, folder, name, on_conflict, taken, now) -> str:
    existing = tree.live_child(user, folder, name)
    if existing is None and names.name_key(name) not in taken:
        return name
    if on_conflict == "rename":
        return tree.free_name(user, folder, name, taken)
    if on_conflict == "replace" and existing is not None and not existing.is_folder:
        trash.move_to_trash(user, existing, now)
        db.session.flush()
        return name
    raise Conflict(f"There is already an item named “{name}” here.")


def _new_file(
    user: User, folder: Node | None, name: str, writer: BlobWriter, now: datetime
) -> Node:
    node = Node(
        owner_id=user.id,
        is_folder=False,
        name=name,
        name_key=names.name_key(name),
        size=writer.size,
        sha256=writer.sha256,
        content_type=filetypes.content_type_for(name),
        storage_key=writer.key,
        created_at=now,
        updated_at=now,
    )
    tree.place(node, folder)
    return node


def get_file(user: User, file_id: str) -> Node:
    """Return the user's live file; anyone else's is NotFound, like a missing one."""
    return access.resolve(user, file_id, kind=access.FILE)


def rename(user: User, node: Node, new_name: str) -> Node:
    """Rename a file or folder; a file must keep an allowed type matching its bytes."""
    return update_item(user, node, name=new_name)


UNCHANGED = object()


def update_item(user: User, node: Node, *, name=None, target=UNCHANGED) -> Node:
    """Rename and/or move a file or folder (target None is the root), all or none."""
    try:
        tree.lock_tree(user, node, None if target is UNCHANGED else target)
        if name is not None:
            tree.prepare_rename(user, node, _checked_new_name(node, name))
        if target is not UNCHANGED:
            tree.prepare_move(user, [node], target)
        tree.commit_unique(node.name)
    except BaseException:
        db.session.rollback()
        raise
    return node


def _checked_new_name(node: Node, new_name: str) -> str:
    name = names.check_typed_name(new_name)
    if not node.is_folder:
        name = check_name_allowed(name)
        head = b"".join(get_storage().read_range(node.storage_key, 0, 512))
        _check_content(name, head)
        node.content_type = filetypes.content_type_for(name)
    return name


def list_files(
    user: User, limit: int = 100, cursor: str | None = None
) -> tuple[list[Node], str | None]:
    """Return a page of all the user's live files, newest first, and the next cursor."""
    query = select(Node).where(Node.owner_id == user.id, IS_FILE, tree.LIVE)
    if cursor:
        created_at, file_id = _decode_cursor(cursor)
        query = query.where(
            or_(
                Node.created_at < created_at,
                and_(Node.created_at == created_at, Node.id < file_id),
            )
        )
    query = query.order_by(Node.created_at.desc(), Node.id.desc()).limit(limit + 1)
    files = list(db.session.scalars(query))
    if len(files) <= limit:
        return files, None
    return files[:limit], _encode_cursor(files[limit - 1])


def _encode_cursor(file: Node) -> str:
    raw = f"{file.created_at.isoformat()}|{file.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, file_id = raw.split("|")
        if not is_object_id(file_id):
            raise ValueError(file_id)
        return datetime.fromisoformat(created_at), file_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise BadRequest("That cursor is not valid.") from error
