"""The trash: deleted items wait here, still counted as used, until purged."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, select, update

from vault.extensions import db
from vault.models import Node, User, utcnow
from vault.services import access, names, quotas, tree
from vault.services.access import IN_TRASH, IS_TRASH_ROOT
from vault.storage import get_storage


@dataclass
class TrashItem:
    node: Node
    size: int  # for a folder: every file deleted with it


def move_to_trash(user: User, node: Node, now: datetime | None = None) -> None:
    """Put a live node, with its live subtree, in the trash (the caller commits)."""
    now = now or utcnow()
    node.trashed_from = tree.path_of(tree.get_folder(user, node.parent_id))
    db.session.execute(
        update(Node)
        .where(Node.id.in_(select(tree.subtree_query(node.id).c.id)))
        .values(trashed_at=now, trash_root_id=node.id)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    db.session.refresh(node)


def trash(user: User, node_ids: list[str], now: datetime | None = None) -> int:
    """Delete files and folders to the trash, all or none; return how many.

    NotFound if any of them is missing or someone else's.
    """
    tree.lock_tree(user)
    nodes = [tree.get_node(user, node_id) for node_id in dict.fromkeys(node_ids)]
    for node in nodes:
        db.session.refresh(node)
        if node.trashed_at is None:  # not already taken along with a folder
            move_to_trash(user, node, now)
    db.session.commit()
    return len(nodes)


def get_trashed(user: User, node_id: str) -> Node:
    """Return what the user deleted (the root of it); NotFound otherwise."""
    return access.resolve(user, node_id, access.WRITE, in_trash=True)


def list_trash(user: User) -> list[TrashItem]:
    """Return what the user deleted, newest first, with the bytes each holds."""
    sizes = (
        select(Node.trash_root_id, quotas.total_bytes(Node.size).label("size"))
        .where(Node.owner_id == user.id, IN_TRASH)
        .group_by(Node.trash_root_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Node, sizes.c.size)
        .join(sizes, sizes.c.trash_root_id == Node.id)
        .where(Node.owner_id == user.id, IN_TRASH, IS_TRASH_ROOT)
        .order_by(Node.trashed_at.desc(), Node.id)
    ).all()
    return [TrashItem(node, int(size or 0)) for node, size in rows]


# Every page and /api/v1/me asks: built once (see tokens._TOKEN_USER).
_TRASH_BYTES = select(quotas.total_bytes(Node.size)).where(
    Node.owner_id == bindparam("owner_id"), IN_TRASH
)


def trash_bytes(user: User) -> int:
    return db.session.scalar(_TRASH_BYTES, {"owner_id": user.id})


def restore(user: User, node_id: str) -> Node:
    """Put a deleted item back where it was, recreating its folder if it is gone.

    If the name is taken there by now, the item comes back as "name (1)".
    """
    tree.lock_tree(user)
    node = get_trashed(user, node_id)
    now = utcnow()
    parent = tree.find_folder(user, node.parent_id)
    if parent is None and node.trashed_from:
        parent = tree.ensure_path(user, None, node.trashed_from, now)
    name = tree.free_name(user, parent, node.name, is_folder=node.is_folder)
    # Place and rename while still in the trash, so the unique index of live
    # names never sees the old name and the new place together.
    tree.place(node, parent)
    node.name, node.name_key = name, names.name_key(name)
    node.trashed_from, node.updated_at = None, now
    db.session.flush()
    db.session.execute(
        update(Node)
        .where(Node.trash_root_id == node.id)
        .values(trashed_at=None, trash_root_id=None)
        .execution_options(synchronize_session=False)
    )
    tree.commit_unique(name)
    return node


def delete_forever(user: User, node_id: str) -> None:
    """Delete one trashed item, and everything deleted with it, for good."""
    tree.lock_tree(user)
    node = get_trashed(user, node_id)
    rows = _delete_rows(Node.trash_root_id == node.id)
    db.session.commit()
    _delete_blobs(rows)


def empty_trash(user: User) -> None:
    tree.lock_tree(user)
    rows = _delete_rows(Node.owner_id == user.id, IN_TRASH)
    db.session.commit()
    _delete_blobs(rows)


def purge_expired(now: datetime | None = None) -> int:
    """Delete for good what has been in the trash longer than VAULT_TRASH_DAYS."""
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["TRASH_DAYS"])
    expired = (IN_TRASH, Node.trashed_at < cutoff)
    owners = db.session.scalars(
        select(User)
        .where(User.id.in_(select(Node.owner_id).where(*expired)))
        .order_by(User.id)
    ).all()
    purged = 0
    for owner in owners:
        # Owner first, rows second, like every tree change: a restore of the
        # same item waits instead of deadlocking with us.
        # One transaction per owner: a crash keeps what was purged before it.
        tree.lock_tree(owner)
        rows = _delete_rows(Node.owner_id == owner.id, *expired)
        db.session.commit()
        purged += _delete_blobs(rows)
    return purged


def forget_files(storage_keys: list[str]) -> int:
    """Delete the rows of files whose blobs were deleted for good; return how many.

    For a restore (services/restore.py): a backup's database copy may still
    name files that were deleted while it copied the blobs. The caller commits.
    """
    return len(_delete_rows(Node.storage_key.in_(storage_keys)))


def _delete_rows(*where) -> list:
    """Delete the trashed rows `where` picks and free their bytes; return them.

    Row first, blob second: the caller commits, then deletes the blobs, so a
    crash in between leaves orphan blobs for fsck, never rows pointing at nothing.
    """
    rows = db.session.execute(
        select(
            Node.id,
            Node.owner_id,
            Node.size,
            Node.storage_key,
            Node.thumbnail_key,
            Node.trash_root_id,
        )
        .where(*where)
        .with_for_update()
    ).all()
    if not rows:
        return []
    freed: dict[str, int] = {}
    for row in rows:
        freed[row.owner_id] = freed.get(row.owner_id, 0) + row.size
    db.session.execute(
        delete(Node)
        .where(Node.id.in_([row.id for row in rows]))
        .execution_options(synchronize_session=False)
    )
    for owner_id, size in freed.items():
        db.session.execute(
            update(User)
            .where(User.id == owner_id)
            .values(used_bytes=User.used_bytes - size)
            .execution_options(synchronize_session=False)
        )
    return rows


def _delete_blobs(rows: list) -> int:
    """Delete the blobs and thumbnails of deleted rows; return the items people saw."""
    storage = get_storage()
    for row in rows:
        for key in (row.storage_key, row.thumbnail_key):
            if key:
                storage.delete(key)
    # Count what people see in the trash: a folder is one item, whatever it held.
    return sum(1 for row in rows if row.trash_root_id == row.id)
