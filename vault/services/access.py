"""The one answer to "may this principal read or write that node?".

A principal is whoever acts:

- a `User` acting on their own tree: they may read and write every live node
  they own, and the roots of what they deleted (`in_trash=True`);
- an administrator, who is a `User` like any other here. Admin rights manage
  accounts (quota, role, disabling, deleting) and show counts and totals,
  never another person's file names or contents: an administrator reads and
  writes only their own nodes, and someone else's are NotFound to them too;
- a `ShareLink` visitor: a download link reads its item and, for a folder,
  every live node below it; an upload link writes (adds files) into its folder
  and reads nothing. A link that is revoked, expired, or whose owner is
  disabled reaches nothing.

Every answer is one SQL statement whose WHERE clause holds the whole decision
(ownership, state, and for a link the ancestry), so someone else's node is
*not found*, exactly like a missing one, and the answer does not tell which
ids exist.
"""

import enum
from typing import TypeVar

from sqlalchemy import exists, select

from vault.errors import NotFound
from vault.extensions import db
from vault.models import Node, ShareLink, User, utcnow
from vault.text import is_object_id

LIVE = Node.trashed_at.is_(None)
IN_TRASH = Node.trashed_at.is_not(None)
IS_TRASH_ROOT = Node.trash_root_id == Node.id

Principal = User | ShareLink
Owned = TypeVar("Owned")


class Need(enum.Enum):
    READ = "read"
    WRITE = "write"


READ, WRITE = Need.READ, Need.WRITE

FILE, FOLDER, ITEM = "file", "folder", "item"
KIND_CONDITIONS = {
    FILE: (Node.is_folder.is_(False),),
    FOLDER: (Node.is_folder.is_(True),),
    ITEM: (),
}


def resolve(
    principal: Principal,
    node_or_id: Node | str | None,
    need: Need = READ,
    *,
    kind: str = ITEM,
    in_trash: bool = False,
) -> Node:
    """Return the node if the principal may `need` it, else raise NotFound.

    `kind` narrows it to a file or a folder. `in_trash` asks for the root of a
    deleted item instead of a live node (owners only: the trash is private).
    A Node passed in is read again under the principal's conditions, so a
    stale or foreign instance never slips through.
    """
    node_id = node_or_id.id if isinstance(node_or_id, Node) else node_or_id
    what = f"{kind} in the trash" if in_trash else kind
    conditions = None
    if is_object_id(node_id or ""):
        conditions = _conditions(principal, node_id, need, in_trash)
    node = None
    if conditions is not None:
        node = db.session.scalar(
            select(Node).where(Node.id == node_id, *KIND_CONDITIONS[kind], *conditions)
        )
    if node is None:
        raise NotFound(f"No such {what}.")
    return node


def find(
    principal: Principal, node_id: str | None, need: Need = READ, *, kind=ITEM
) -> Node | None:
    """Return the node as `resolve` does, or None where it would raise NotFound."""
    try:
        return resolve(principal, node_id, need, kind=kind)
    except NotFound:
        return None


def resolve_folder(
    principal: Principal, folder_or_id: Node | str | None, need: Need = READ
) -> Node | None:
    """Return the folder as `resolve` does; None is the root of a user's tree.

    A link has no root: None is NotFound for it.
    """
    if folder_or_id is not None:
        return resolve(principal, folder_or_id, need, kind=FOLDER)
    if not isinstance(principal, User):
        raise NotFound("No such folder.")
    return None


def account_of(principal: Principal) -> User:
    """Return the account whose tree, storage and quota the principal acts in."""
    return principal.owner if isinstance(principal, ShareLink) else principal


def _conditions(principal: Principal, node_id: str, need: Need, in_trash: bool):
    """Return the WHERE conditions that grant access, or None when none can."""
    if isinstance(principal, User):
        state = (IN_TRASH, IS_TRASH_ROOT) if in_trash else (LIVE,)
        return (Node.owner_id == principal.id, *state)
    if in_trash or need is not _link_need(principal):
        return None
    if need is WRITE and node_id != principal.node_id:
        # Files sent through an upload link land in its folder, nowhere below.
        return None
    return (
        Node.owner_id == principal.owner_id,
        LIVE,
        _link_is_open(principal),
        _inside_shared_item(principal, node_id),
    )


def _link_need(share: ShareLink) -> Need:
    return WRITE if share.is_upload else READ


def _link_is_open(share: ShareLink):
    # The door (share_access.active_link) checked this when the visit began; asked
    # again here so that a principal kept longer cannot outlive its link.
    open_link = select(ShareLink.id).where(
        ShareLink.id == share.id, ShareLink.open_at(utcnow())
    )
    owner_enabled = select(User.id).where(
        User.id == share.owner_id, User.disabled.is_(False)
    )
    return exists(open_link) & exists(owner_enabled)


def _inside_shared_item(share: ShareLink, node_id: str):
    """The condition that the shared item is the node or a live folder above it.

    One recursive CTE walks up from the node through the owner's live folders
    and stops at the shared item: one statement at any depth, never a query per
    level. A folder in the trash on the way breaks the chain, so whatever is
    below it is out of reach.
    """
    chain = (
        select(Node.id, Node.parent_id)
        .where(Node.id == node_id, Node.owner_id == share.owner_id, LIVE)
        .cte("shared_chain", recursive=True)
    )
    # UNION, not UNION ALL: a row found again adds nothing, so even a cycle ends.
    chain = chain.union(
        select(Node.id, Node.parent_id).where(
            Node.id == chain.c.parent_id,
            chain.c.id != share.node_id,
            Node.owner_id == share.owner_id,
            LIVE,
        )
    )
    return exists(select(chain.c.id).where(chain.c.id == share.node_id))


def get_owned(
    model: type[Owned], object_id: str, user: User, what: str, *conditions
) -> Owned:
    """Return the user's row of `model` (a token, a link, an upload) meeting
    `conditions`, or raise NotFound.

    For rows that only their owner ever reaches; nodes, which others reach
    too, go through `resolve`. Ids not of our shape never reach the database.
    """
    if model is Node:
        raise TypeError("Nodes are resolved with access.resolve.")
    row = None
    if is_object_id(object_id or ""):
        row = db.session.scalar(
            select(model).where(
                model.id == object_id, model.owner_id == user.id, *conditions
            )
        )
    if row is None:
        raise NotFound(f"No such {what}.")
    return row
