"""The one access resolver: who may read or write which node."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, update

from tests import factories
from vault.errors import NotFound
from vault.extensions import db
from vault.models import Node, ShareLink, User, utcnow
from vault.services import access, shares

READ, WRITE = access.READ, access.WRITE


def link(owner: User, node: Node, kind: str = "download") -> ShareLink:
    return shares.create_share(
        owner, node.id, expires_at=utcnow() + timedelta(days=1), kind=kind
    )


@pytest.fixture
def world(app):
    """Carol's tree, her links, and three other principals, in one app context.

    Shared/           download link "shared link", upload link "upload link"
      Inner/deep.txt
      Gone/child.txt  (Gone is in the trash, and so child.txt with it)
      old.txt         (in the trash)
    Sibling/          download link "sibling link"
      sib.txt
    """
    with app.app_context():
        make = factories.create_user
        carol = make("carol@example.com", "correct horse battery")
        dave = make("dave@example.com", "correct horse battery")
        admin = make("root@example.com", "correct horse battery", is_admin=True)
        carol, dave, admin = (db.session.get(User, u.id) for u in (carol, dave, admin))
        folder = factories.create_folder
        shared = folder(carol, "Shared")
        inner = folder(carol, "Inner", shared.id)
        gone = folder(carol, "Gone", shared.id)
        sibling = folder(carol, "Sibling")
        store = factories.store_file
        nodes = {
            "shared folder": shared,
            "inner folder": inner,
            "file inside": store(carol, "deep.txt", b"d", folder_id=inner.id),
            "trashed file": store(carol, "old.txt", b"o", folder_id=shared.id),
            "inside trashed folder": store(carol, "child.txt", b"c", folder_id=gone.id),
            "sibling file": store(carol, "sib.txt", b"s", folder_id=sibling.id),
        }
        factories.trash_node(carol, nodes["trashed file"].id)
        factories.trash_node(carol, gone.id)
        principals = {
            "owner": carol,
            "other user": dave,
            "admin": admin,
            "shared link": link(carol, db.session.get(Node, shared.id)),
            "sibling link": link(carol, db.session.get(Node, sibling.id)),
            "upload link": link(carol, db.session.get(Node, shared.id), "upload"),
        }
        ids = {name: node.id for name, node in nodes.items()}
        yield principals, ids


# What each principal reaches: (target, need) pairs; everything else is NotFound.
GRANTED = {
    "owner": {
        (target, need)
        for target in ("shared folder", "inner folder", "file inside", "sibling file")
        for need in (READ, WRITE)
    },
    "other user": set(),
    # An administrator manages accounts, not other people's files.
    "admin": set(),
    "shared link": {
        ("shared folder", READ),
        ("inner folder", READ),
        ("file inside", READ),
    },
    "sibling link": {("sibling file", READ)},
    "upload link": {("shared folder", WRITE)},
}
TARGETS = [
    "shared folder",
    "inner folder",
    "file inside",
    "sibling file",
    "trashed file",
    "inside trashed folder",
]


@pytest.mark.parametrize("principal", list(GRANTED))
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("need", [READ, WRITE], ids=["read", "write"])
def test_access_matrix(world, principal, target, need):
    principals, ids = world

    if (target, need) in GRANTED[principal]:
        node = access.resolve(principals[principal], ids[target], need)
        assert node.id == ids[target]
    else:
        with pytest.raises(NotFound):
            access.resolve(principals[principal], ids[target], need)


def test_a_missing_id_and_a_foreign_one_get_the_same_answer(world):
    principals, ids = world
    answers = []
    for node_id in ("0" * 32, ids["file inside"], "../etc", None):
        with pytest.raises(NotFound) as raised:
            access.resolve(principals["other user"], node_id)
        answers.append(str(raised.value))

    assert len(set(answers)) == 1


def test_kind_narrows_to_files_or_folders(world):
    principals, ids = world
    owner = principals["owner"]

    assert access.resolve(owner, ids["file inside"], kind=access.FILE)
    assert access.resolve(owner, ids["inner folder"], kind=access.FOLDER)
    with pytest.raises(NotFound):
        access.resolve(owner, ids["file inside"], kind=access.FOLDER)
    with pytest.raises(NotFound):
        access.resolve(principals["shared link"], ids["inner folder"], kind=access.FILE)


def test_only_the_owner_reaches_the_trash(world):
    principals, ids = world

    node = access.resolve(principals["owner"], ids["trashed file"], in_trash=True)
    assert node.id == ids["trashed file"]
    for name in ("other user", "admin", "shared link"):
        with pytest.raises(NotFound):
            access.resolve(principals[name], ids["trashed file"], in_trash=True)
    with pytest.raises(NotFound):  # not the root of what was deleted
        access.resolve(principals["owner"], ids["inside trashed folder"], in_trash=True)


def test_a_link_turned_off_meanwhile_reaches_nothing(world):
    principals, ids = world
    share = principals["shared link"]
    assert access.resolve(share, ids["file inside"])

    share.revoked_at = utcnow()
    db.session.commit()

    with pytest.raises(NotFound):
        access.resolve(share, ids["file inside"])


def test_a_disabled_owners_links_reach_nothing(world):
    principals, ids = world
    principals["owner"].disabled = True
    db.session.commit()

    with pytest.raises(NotFound):
        access.resolve(principals["shared link"], ids["file inside"])


def test_a_folder_in_the_trash_on_the_way_cuts_off_what_is_below(world):
    principals, ids = world
    # Deleting takes the subtree along; a tree where only the folder on the
    # way is in the trash must still keep the link out below it.
    db.session.execute(
        update(Node).where(Node.id == ids["inner folder"]).values(trashed_at=utcnow())
    )
    db.session.commit()

    assert access.find(principals["shared link"], ids["file inside"]) is None


@contextmanager
def counted_statements():
    statements = []

    def count(*_args):
        statements.append(1)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_ancestry_is_one_statement_at_any_depth(app):
    with app.app_context():
        owner = db.session.get(
            User, factories.create_user("eve@example.com", "correct horse battery").id
        )
        top = parent = factories.create_folder(owner, "Level 0")
        for level in range(1, 30):
            parent = factories.create_folder(owner, f"Level {level}", parent.id)
        deep = factories.store_file(owner, "deep.txt", b"d", folder_id=parent.id)
        share = link(owner, db.session.get(Node, top.id))
        shallow = factories.create_folder(owner, "Level 1b", top.id)
        db.session.refresh(share)

        with counted_statements() as deep_statements:
            assert access.resolve(share, deep.id).id == deep.id
        with counted_statements() as shallow_statements:
            assert access.resolve(share, shallow.id).id == shallow.id

    assert len(deep_statements) == len(shallow_statements) == 1


def test_a_cycle_in_a_corrupt_tree_ends_the_walk(app):
    with app.app_context():
        owner = db.session.get(
            User, factories.create_user("eve@example.com", "correct horse battery").id
        )
        top = factories.create_folder(owner, "Top")
        first = factories.create_folder(owner, "First")
        second = factories.create_folder(owner, "Second", first.id)
        share = link(owner, db.session.get(Node, top.id))
        db.session.execute(
            update(Node).where(Node.id == first.id).values(parent_id=second.id)
        )
        db.session.commit()

        assert access.find(share, second.id) is None
