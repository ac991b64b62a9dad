"""fsck of the folder tree: live items that no listing leads to, reattached.

A live item is in reach when a chain of its owner's live folders leads to it
from the root. One out of reach sits in a cycle (folders inside each other)
or below a parent that is gone, in the trash or not its own: its files are in
no listing, yet still count against the quota. The repair moves the top of
each such branch, with all it holds, into a "Recovered" folder in the owner's
root; nothing is deleted.
"""

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import exists, select

from vault.extensions import db
from vault.models import Node, User, utcnow
from vault.services import names, tree

RECOVERED = "Recovered"


@dataclass
class Branch:
    """Live items out of reach, under one top: the item a repair moves."""

    top: object  # a row of _out_of_reach
    cycle: list | None  # the rows of the cycle, from the top; None: no cycle
    files: int = 0
    size: int = 0


def check_tree(report, repair: bool, describe_size) -> None:
    """Report each branch out of reach; with `repair`, reattach it under Recovered.

    Commits as it goes, like all of fsck: one transaction per owner repaired.
    """
    found = _branches(_out_of_reach())
    emails = _emails(found)
    db.session.commit()
    for owner_id, branches in found.items():
        problems = {
            branch.top.id: _report(report, branch, emails[owner_id], describe_size)
            for branch in branches
        }
        if repair:
            for top_id, repair_text in reattach(owner_id).items():
                if top_id in problems:
                    problems[top_id].repair = repair_text


def reattach(owner_id: str) -> dict[str, str]:
    """Move the top of each of the owner's branches out of reach into Recovered.

    Looks again under the owner's tree lock, so a change made since the check
    is seen. Return what was done, by the id of each top; commits.
    """
    user = db.session.get(User, owner_id)
    tree.lock_tree(user)
    branches = _branches(_out_of_reach(owner_id)).get(owner_id, [])
    if not branches:
        db.session.commit()
        return {}
    recovered = _recovered_folder(user)
    done = {}
    for branch in branches:
        node = db.session.get(Node, branch.top.id)
        name = tree.free_name(user, recovered, node.name, is_folder=node.is_folder)
        renamed = f" as “{name}”" if name != node.name else ""
        node.name, node.name_key = name, names.name_key(name)
        tree.place(node, recovered)
        db.session.flush()
        done[node.id] = f"moved into “{recovered.name}” in the root{renamed}"
    db.session.commit()
    return done


def _recovered_folder(user: User) -> Node:
    existing = tree.live_child(user, None, RECOVERED)
    if existing is not None and existing.is_folder:
        return existing
    name = tree.free_name(user, None, RECOVERED, is_folder=True)
    return tree.insert_folder(user, name, None, utcnow())


def _out_of_reach(owner_id: str | None = None) -> list:
    """Return the live nodes that no chain of live folders joins to their root."""
    mine = (Node.owner_id == owner_id,) if owner_id else ()
    reach = (
        select(Node.id, Node.owner_id, Node.is_folder)
        .where(tree.LIVE, Node.parent_id.is_(None), Node.parent_key == Node.owner_id)
        .where(*mine)
        .cte("reach", recursive=True)
    )
    # UNION, not UNION ALL: a cycle below a folder in reach cannot loop.
    reach = reach.union(
        select(Node.id, Node.owner_id, Node.is_folder)
        .join(reach, reach.c.id == Node.parent_id)
        .where(
            tree.LIVE,
            reach.c.is_folder.is_(True),
            Node.owner_id == reach.c.owner_id,
            Node.parent_key == Node.parent_id,
        )
    )
    return db.session.execute(
        select(
            Node.id,
            Node.owner_id,
            Node.parent_id,
            Node.parent_key,
            Node.name,
            Node.name_key,
            Node.is_folder,
            Node.size,
        )
        .where(tree.LIVE, *mine, ~exists().where(reach.c.id == Node.id))
        .order_by(Node.owner_id, Node.id)
    ).all()


def _branches(rows: list) -> dict[str, list[Branch]]:
    """Group the rows out of reach under their tops, by owner."""
    by_id = {row.id: row for row in rows}
    branches: dict[str, Branch] = {}
    top_of: dict[str, str] = {}
    for row in rows:
        chain: list[str] = []
        current = row.id
        while current in by_id and current not in top_of and current not in chain:
            chain.append(current)
            current = by_id[current].parent_id
        if current in top_of:
            top = top_of[current]
        elif current in chain:
            # A new cycle: cut it at its first folder by name, as people read.
            ring = chain[chain.index(current) :]
            top = min(ring, key=lambda node_id: _order(by_id[node_id]))
            start = ring.index(top)
            cycle = [by_id[node_id] for node_id in ring[start:] + ring[:start]]
            branches[top] = Branch(by_id[top], cycle)
        else:
            top = chain[-1]
            branches[top] = Branch(by_id[top], None)
        for node_id in chain:
            top_of[node_id] = top
    for node_id, top in top_of.items():
        if not by_id[node_id].is_folder:
            branches[top].files += 1
            branches[top].size += by_id[node_id].size
    grouped: dict[str, list[Branch]] = defaultdict(list)
    for branch in sorted(branches.values(), key=lambda branch: _order(branch.top)):
        grouped[branch.top.owner_id].append(branch)
    return grouped


def _order(row) -> tuple[str, str]:
    return row.name_key, row.id


def _emails(found: dict) -> dict[str, str]:
    if not found:
        return {}
    rows = db.session.execute(select(User.id, User.email).where(User.id.in_(found)))
    return {user_id: email for user_id, email in rows}


def _report(report, branch: Branch, email: str, describe_size):
    holding = (
        f"{branch.files} file{'s' if branch.files != 1 else ''} "
        f"({describe_size(branch.size)})"
    )
    if branch.cycle is not None:
        ring = " in ".join(f"“{row.name}”" for row in branch.cycle)
        return report.add(
            "tree_cycle",
            f"Folders of {email} are inside each other, cut off from the root: "
            f"{ring} in “{branch.cycle[0].name}”; they hold {holding}.",
        )
    top = branch.top
    what = f"Folder “{top.name}”" if top.is_folder else f"File “{top.name}”"
    holding = f"it holds {holding}" if top.is_folder else describe_size(top.size)
    return report.add(
        "orphan_node",
        f"{what} ({top.id}) of {email} is cut off from the root: "
        f"{_why(top)}; {holding}.",
    )


def _why(top) -> str:
    parent = db.session.get(Node, top.parent_id) if top.parent_id else None
    if parent is None:
        return f"the folder it was in ({top.parent_key}) is gone"
    if parent.trashed_at is not None:
        return f"the folder it is in, “{parent.name}”, is in the trash"
    return f"its link to its folder ({parent.id}) is broken"
