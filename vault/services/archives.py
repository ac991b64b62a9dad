"""What goes into a zip download: files and folders, with their paths inside."""

from dataclasses import dataclass

from sqlalchemy import select

from vault.errors import BadRequest
from vault.extensions import db
from vault.models import Node
from vault.services import access, names, tree
from vault.services.access import Principal

MAX_ITEMS = 1000  # items picked by hand for one download


@dataclass
class Entry:
    path: str  # inside the archive, "/"-separated
    node: Node  # a file, or a folder (an empty directory entry)


def archive_name(nodes: list[Node], folder: Node | None) -> str:
    if len(nodes) == 1 and nodes[0].is_folder:
        return f"{nodes[0].name}.zip"
    return f"{folder.name}.zip" if folder else "vault.zip"


def entries_for(
    principal: Principal, node_ids: list[str]
) -> tuple[list[Node], list[Entry]]:
    """Return the picked nodes and every entry their zip holds, in tree order.

    NotFound unless the principal may read every picked node; what is below a
    readable folder is readable too.
    """
    if not node_ids:
        raise BadRequest("Pick at least one file or folder to download.")
    if len(node_ids) > MAX_ITEMS:
        raise BadRequest(f"Pick at most {MAX_ITEMS} items at once.")
    nodes = [access.resolve(principal, node_id) for node_id in dict.fromkeys(node_ids)]
    entries: list[Entry] = []
    taken: set[str] = set()
    for node in nodes:
        # Items picked from search results may share a name: keep both.
        top = node.name
        number = 0
        while names.name_key(top) in taken:
            number += 1
            top = names.numbered(node.name, number, is_folder=node.is_folder)
        taken.add(names.name_key(top))
        entries.append(Entry(top, node))
        if node.is_folder:
            entries.extend(_folder_entries(node, top))
    return nodes, entries


def _folder_entries(folder: Node, prefix: str) -> list[Entry]:
    below = db.session.scalars(
        select(Node)
        .where(Node.id.in_(select(tree.subtree_query(folder.id).c.id)))
        .where(Node.id != folder.id)
        .order_by(Node.is_folder.desc(), Node.name_key)
    ).all()
    paths = {folder.id: prefix}
    pending = list(below)
    entries = []
    # Parents come before their children once every folder has a path.
    while pending:
        waiting = []
        for node in pending:
            if node.parent_id in paths:
                paths[node.id] = f"{paths[node.parent_id]}/{node.name}"
                entries.append(Entry(paths[node.id], node))
            else:
                waiting.append(node)
        if len(waiting) == len(pending):
            break  # unreachable nodes: not in this subtree
        pending = waiting
    return entries
