"""Moves that cross each other at the same moment never leave folders in a cycle.

Folder A into B while B goes into A: checked one at a time each is fine, but
both together would tie A and B into a ring cut off from the root, their files
gone from every listing yet still counted. First from threads (each its own
client, session and connection), then from several gunicorn worker processes;
the suite runs on SQLite and, with VAULT_TEST_DATABASE_URL, on PostgreSQL.
"""

import http.client
import json

import pytest
from sqlalchemy import select

from tests.helpers import blobs, live_nodes
from tests.test_quotas_concurrency import run_together
from vault.errors import NotFound
from vault.extensions import db
from vault.models import Node, User
from vault.services import files, tree
from vault.storage import get_storage

pytestmark = pytest.mark.bytes

PAIRS = 12
RINGS = 4


def unreachable_from_the_root(app, user) -> list[str]:
    """Return the names of the user's live items that no listing leads to."""
    with app.app_context():
        rows = db.session.execute(
            select(Node.id, Node.name, Node.parent_key).where(
                Node.owner_id == user.id, Node.trashed_at.is_(None)
            )
        ).all()
    children: dict[str, list] = {}
    for row in rows:
        children.setdefault(row.parent_key, []).append(row)
    seen, waiting = set(), [user.id]
    while waiting:
        for row in children.get(waiting.pop(), []):
            if row.id not in seen:
                seen.add(row.id)
                waiting.append(row.id)
    return sorted(row.name for row in rows if row.id not in seen)


@pytest.fixture
def crossing(alice, make_folder, upload):
    """Pairs A, B and rings X, Y, Z of folders, each holding a file, and the moves
    that cross: A into B with B into A, X into Y with Y into Z with Z into X."""
    groups = [("A", "B")] * PAIRS + [("X", "Y", "Z")] * RINGS
    moves, sizes = [], []
    for number, names in enumerate(groups):
        folders = [make_folder(alice, f"{name}{number}") for name in names]
        for folder in folders:
            upload(alice, "inside.txt", b"kept\n", folder_id=folder.id)
        for index, folder in enumerate(folders):
            moves.append((number, folder.id, folders[(index + 1) % len(folders)].id))
        sizes.append(len(folders))
    return moves, sizes


def assert_one_move_per_group_refused(moves, sizes, statuses):
    by_group: dict[int, list[int]] = {}
    for (group, _, _), status in zip(moves, statuses, strict=True):
        by_group.setdefault(group, []).append(status)
    for group, size in enumerate(sizes):
        assert sorted(by_group[group]) == [200] * (size - 1) + [409]


def test_crossing_moves_from_threads_leave_no_cycle(app, alice, api_headers, crossing):
    moves, sizes = crossing
    headers = api_headers(alice)

    def move(index):
        _, folder_id, target_id = moves[index]
        response = app.test_client().patch(
            f"/api/v1/folders/{folder_id}",
            headers=headers,
            json={"parent_id": target_id},
        )
        return response.status_code

    statuses = run_together(len(moves), move)

    assert_one_move_per_group_refused(moves, sizes, statuses)
    assert unreachable_from_the_root(app, alice) == []


def test_crossing_moves_from_worker_processes_leave_no_cycle(
    app, alice, api_headers, crossing, gunicorn
):
    moves, sizes = crossing
    headers = {**api_headers(alice), "Content-Type": "application/json"}

    def move(index):
        _, folder_id, target_id = moves[index]
        connection = http.client.HTTPConnection("127.0.0.1", gunicorn, timeout=60)
        connection.request(
            "PATCH",
            f"/api/v1/folders/{folder_id}",
            body=json.dumps({"parent_id": target_id}),
            headers=headers,
        )
        status = connection.getresponse().status
        connection.close()
        return status

    statuses = run_together(len(moves), move)

    assert_one_move_per_group_refused(moves, sizes, statuses)
    assert unreachable_from_the_root(app, alice) == []


def test_nothing_goes_into_or_moves_what_was_deleted_meanwhile(
    app, client, alice, api_headers, make_folder
):
    folder, other = make_folder(alice, "Docs"), make_folder(alice, "Other")
    purged = make_folder(alice, "Purged")
    headers = api_headers(alice)
    with app.app_context():
        owner = db.session.get(User, alice.id)
        # Read as a request reads them, before others trash and purge them.
        stale = tree.get_folder(owner, folder.id)
        moving, gone = tree.get_node(owner, other.id), tree.get_node(owner, purged.id)
        trashed = client.delete(f"/api/v1/folders/{folder.id}", headers=headers)
        client.delete(f"/api/v1/folders/{purged.id}", headers=headers)
        client.delete(f"/api/v1/trash/{purged.id}", headers=headers)
        writer = get_storage().new_writer(owner.id)
        writer.write(b"late\n")

        with pytest.raises(NotFound):
            tree.create_folder(owner, "New", stale)
        with pytest.raises(NotFound):
            tree.move_nodes(owner, [moving], stale)
        with pytest.raises(NotFound):
            files.rename(owner, gone, "Renamed")
        with pytest.raises(NotFound):
            files.store_uploads(owner, [("late.txt", writer)], folder=stale)
        writer.discard()

    assert trashed.status_code == 204
    assert [item.name for item in live_nodes(app)] == ["Other"]
    assert blobs(app) == {}
