"""The folder tree: folders, listing, paths, rename and move."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import ObjectDeletedError

from vault.errors import BadRequest, Conflict, NotFound
from vault.extensions import db
from vault.models import Node, User, utcnow
from vault.services import access, names
from vault.services.access import LIVE, Principal

SORT_COLUMNS = {"name": Node.name_key, "size": Node.size, "date": Node.updated_at}
MAX_LISTING = 100_000  # one API listing of a folder
MAX_PATH_PARTS = 64  # levels an upload may create at once


def parent_key(user: User, folder: Node | None) -> str:
    return folder.id if folder else user.id


def place(node: Node, folder: Node | None) -> None:
    """Put a node into a folder (None is the root)."""
    node.parent_id = folder.id if folder else None
    node.parent_key = folder.id if folder else node.owner_id


def lock_tree(user: User, *nodes: Node | None) -> None:
    """Hold the user's tree still until this transaction ends; read `nodes` again.

    Every use case that changes the tree calls this first. Two moves checked
    at once could each miss the other and tie folders into a cycle; under the
    lock an owner's changes run one after another, each seeing the result of
    the one before. The lock is an UPDATE of the owner's row, the
    transaction's first write: PostgreSQL holds it as a row lock and SQLite as
    its one write lock, until commit or rollback. What was read before it may
    be stale, so every node in the session is read again when next used, and
    any of `nodes` gone or in the trash by now is NotFound.
    """
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(used_bytes=User.used_bytes)
        .execution_options(synchronize_session=False)
    )
    for instance in list(db.session.identity_map.values()):
        if isinstance(instance, Node):
            db.session.expire(instance)
    for node in nodes:
        if node is not None and not _still_live(node):
            # No name: a row deleted meanwhile has none left to read.
            raise NotFound("That item was deleted meanwhile.")


def _still_live(node: Node) -> bool:
    try:
        return node.trashed_at is None
    except ObjectDeletedError:
        return False


def get_folder(user: User, folder_id: str | None) -> Node | None:
    """Return the user's live folder; None or "" is the root. NotFound otherwise."""
    return access.resolve_folder(user, folder_id or None)


def find_folder(user: User, folder_id: str | None) -> Node | None:
    """Return the user's live folder, or None (the root) where get_folder raises."""
    return access.find(user, folder_id, kind=access.FOLDER)


def get_node(user: User, node_id: str) -> Node:
    """Return one of the user's live files or folders; NotFound otherwise."""
    return access.resolve(user, node_id)


def live_child(user: User, folder: Node | None, name: str) -> Node | None:
    return db.session.scalar(
        select(Node).where(
            Node.parent_key == parent_key(user, folder),
            Node.name_key == names.name_key(name),
            LIVE,
        )
    )


def free_name(
    user: User, folder: Node | None, name: str, taken=(), *, is_folder=False
) -> str:
    """Return `name`, or its first "name (n)" form not used in the folder."""
    candidate, number = name, 0
    while names.name_key(candidate) in taken or live_child(user, folder, candidate):
        number += 1
        candidate = names.numbered(name, number, is_folder=is_folder)
    return candidate


def create_folder(
    user: User, name: str, parent: Node | None, now: datetime | None = None
) -> Node:
    """Create a folder; InvalidName, or Conflict if the name is taken there."""
    name = names.check_typed_name(name)
    lock_tree(user, parent)
    folder = new_folder(user, name, parent, now or utcnow())
    commit_unique(name)
    return folder


def new_folder(user: User, name: str, parent: Node | None, now: datetime) -> Node:
    if live_child(user, parent, name):
        raise Conflict(f"There is already an item named “{name}” here.")
    return insert_folder(user, name, parent, now)


def insert_folder(user: User, name: str, parent: Node | None, now: datetime) -> Node:
    """Add a folder row; a name taken meanwhile raises IntegrityError on flush."""
    folder = Node(
        owner_id=user.id,
        is_folder=True,
        name=name,
        name_key=names.name_key(name),
        created_at=now,
        updated_at=now,
    )
    place(folder, parent)
    db.session.add(folder)
    db.session.flush()
    return folder


def path_parts(path: str) -> list[str]:
    """Return the folder names of a path ("a/b"); raise InvalidName, BadRequest."""
    parts = [
        part for part in (path or "").replace("\\", "/").split("/") if part.strip()
    ]
    if len(parts) > MAX_PATH_PARTS:
        raise BadRequest(f"A folder path may have at most {MAX_PATH_PARTS} levels.")
    return [names.clean_display_name(part) for part in parts]


def ensure_path(
    user: User, folder: Node | None, path: str, now: datetime
) -> Node | None:
    """Return the folder at `path` ("a/b") below `folder`, creating what is missing."""
    for name in path_parts(path):
        existing = live_child(user, folder, name)
        if existing is None:
            # The caller holds the tree lock; should anything create it first
            # anyway, the unique index raises IntegrityError and it tries again.
            folder = insert_folder(user, name, folder, now)
        elif existing.is_folder:
            folder = existing
        else:
            raise Conflict(f"A file named “{name}” is in the way of that folder.")
    return folder


def commit_unique(name: str) -> None:
    """End a tree change's transaction: commit it, or roll it back and raise
    Conflict if the unique index refused the name. The last step of a use case.
    """
    # The unique index settles races that the checks above cannot see.
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise Conflict(f"There is already an item named “{name}” here.") from error


@dataclass
class Page:
    items: list[Node]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_children(
    principal: Principal,
    folder: Node | None,
    *,
    sort: str = "name",
    descending: bool = False,
    page: int = 1,
    per_page: int = 200,
) -> Page:
    """Return one page of a folder's live contents: folders first, then files.

    None is the root of a user's tree; a folder must be one the principal may
    read (NotFound otherwise).
    """
    if sort not in SORT_COLUMNS:
        raise BadRequest("Sort by name, size or date.")
    folder = access.resolve_folder(principal, folder)
    where = (Node.parent_key == parent_key(access.account_of(principal), folder), LIVE)
    column = SORT_COLUMNS[sort]
    order = column.desc() if descending else column.asc()
    total = db.session.scalar(select(func.count()).select_from(Node).where(*where))
    page = max(1, page)
    items = db.session.scalars(
        select(Node)
        .where(*where)
        .order_by(Node.is_folder.desc(), order, Node.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def ancestors(folder: Node | None) -> list[Node]:
    """Return the folders from the root down to `folder`, inclusive, in one query.

    On a corrupt tree the chain stops before a folder would come twice.
    """
    if folder is None:
        return []
    above = (
        select(Node.id, Node.parent_id)
        .where(Node.id == folder.id)
        .cte("above", recursive=True)
    )
    # UNION, not UNION ALL: a row found again adds nothing, so even a cycle ends.
    above = above.union(
        select(Node.id, Node.parent_id).where(
            Node.id == above.c.parent_id, Node.owner_id == folder.owner_id
        )
    )
    rows = db.session.execute(
        select(Node, above.c.parent_id).join(above, above.c.id == Node.id)
    ).all()
    by_id = {node.id: (node, parent_id) for node, parent_id in rows}
    chain: list[Node] = []
    next_id: str | None = folder.id
    while next_id in by_id and len(chain) < len(by_id):
        node, next_id = by_id[next_id]
        chain.append(node)
    return list(reversed(chain))


def path_of(folder: Node | None) -> str:
    """Return a folder's path as "a/b/c" ("" for the root)."""
    return "/".join(node.name for node in ancestors(folder))


def prepare_rename(user: User, node: Node, name: str) -> None:
    """Rename to a cleaned and checked name, uncommitted; Conflict if it is taken."""
    if names.name_key(name) != node.name_key:
        folder = get_folder(user, node.parent_id)
        if live_child(user, folder, name):
            raise Conflict(f"There is already an item named “{name}” here.")
    node.name, node.name_key, node.updated_at = name, names.name_key(name), utcnow()


def move_nodes(user: User, nodes: list[Node], target: Node | None) -> None:
    """Move files and folders into `target` (None is the root), all or none."""
    lock_tree(user, *nodes, target)
    prepare_move(user, nodes, target)
    commit_unique(nodes[0].name if nodes else "")


def prepare_move(user: User, nodes: list[Node], target: Node | None) -> None:
    """Move nodes, uncommitted.

    Conflict if a folder would go into itself or below itself, or if a name is
    taken there (or twice among the moved).
    """
    target_id = target.id if target else None
    above_target = {folder.id for folder in ancestors(target)}
    taken: set[str] = set()
    moving = [node for node in nodes if node.parent_id != target_id]
    for node in moving:
        if node.is_folder and node.id in above_target:
            raise Conflict("A folder cannot be moved into itself or its subfolders.")
        if node.name_key in taken or live_child(user, target, node.name):
            raise Conflict(f"There is already an item named “{node.name}” there.")
        taken.add(node.name_key)
    now = utcnow()
    for node in moving:
        place(node, target)
        node.updated_at = now


def search(user: User, query: str, limit: int = 200) -> list[Node]:
    """Find live files and folders whose name contains `query`, in any folder."""
    key = names.name_key(query.strip())
    if not key:
        return []
    return list(
        db.session.scalars(
            select(Node)
            .where(Node.owner_id == user.id, LIVE)
            .where(Node.name_key.contains(key, autoescape=True))
            .order_by(Node.is_folder.desc(), Node.name_key)
            .limit(limit)
        )
    )


def folder_paths(user: User) -> dict[str, str]:
    """Map each live folder id of the user to its path, in one query."""
    rows = db.session.execute(
        select(Node.id, Node.name, Node.parent_id).where(
            Node.owner_id == user.id, Node.is_folder, LIVE
        )
    ).all()
    by_id = {row.id: row for row in rows}
    paths: dict[str, str] = {}
    for folder_id in by_id:
        # Up to a folder with a known path, the root, or (corrupt tree) a cycle.
        chain: list[str] = []
        while folder_id in by_id and folder_id not in paths and folder_id not in chain:
            chain.append(folder_id)
            folder_id = by_id[folder_id].parent_id
        above = paths.get(folder_id, "")
        for below_id in reversed(chain):
            name = by_id[below_id].name
            above = paths[below_id] = f"{above}/{name}" if above else name
    return paths


def subtree_query(root_id: str):
    """A recursive CTE of the ids of a live node and its live descendants."""
    tree = select(Node.id).where(Node.id == root_id).cte("subtree", recursive=True)
    children = select(Node.id).where(Node.parent_id == tree.c.id, LIVE)
    # UNION, not UNION ALL: on a corrupt tree (a cycle) the walk still ends.
    return tree.union(children)
