"""A corrupt tree: every page still answers, and fsck puts the lost items back.

The trees here are broken directly in the database, as a past bug or a
restore from a bad backup could leave them: folders inside each other (a
2-cycle, a 3-cycle), items whose folder row is gone, a live file in a folder
in the trash. Every recursive query must still end, and `fsck --repair` must
reattach all of it under "Recovered" in the owner's root, deleting nothing.
"""

import threading

import pytest
from sqlalchemy import delete, select, update

from tests.conftest import TEST_DATABASE_URL, base_config
from tests.test_shares_public import make_link, open_zip
from tests.test_tree_concurrency import unreachable_from_the_root
from vault.extensions import db
from vault.models import Node, User


@pytest.fixture
def app_config(tmp_path):
    config = base_config(tmp_path)
    if TEST_DATABASE_URL:
        # Should a query loop after all, PostgreSQL stops it rather than
        # running on after the test has failed.
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "connect_args": {"options": "-c statement_timeout=60000"}
        }
    return config


def answered(call):
    """Return what `call` returns; fail, rather than hang, if it never does."""
    results = []
    thread = threading.Thread(target=lambda: results.append(call()), daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert results, "no answer: a query loops on the corrupt tree"
    return results[0]


def set_parent(app, node_id: str, parent_id: str) -> None:
    with app.app_context():
        db.session.execute(
            update(Node)
            .where(Node.id == node_id)
            .values(parent_id=parent_id, parent_key=parent_id)
        )
        db.session.commit()


def tie_in_a_ring(app, *folders) -> None:
    """Put each folder into the next, the last into the first."""
    for index, folder in enumerate(folders):
        set_parent(app, folder.id, folders[(index + 1) % len(folders)].id)


@pytest.fixture
def ring(app, alice, make_folder, upload):
    """Music and Films inside each other, with files and a subfolder, Live."""
    music, films = make_folder(alice, "Music"), make_folder(alice, "Films")
    live = make_folder(alice, "Live", music.id)
    upload(alice, "song.txt", b"la la\n", folder_id=music.id)
    upload(alice, "film.txt", b"action\n", folder_id=films.id)
    upload(alice, "live.txt", b"encore\n", folder_id=live.id)
    tie_in_a_ring(app, music, films)
    return {"music": music, "films": films, "live": live}


# --- every recursive query ends ----------------------------------------------------


def test_pages_of_a_cyclic_tree_answer(client, as_alice, ring):
    music, films = ring["music"], ring["films"]

    folder_page = answered(lambda: client.get(f"/folders/{music.id}"))
    search_page = answered(lambda: client.get("/search?q=txt"))
    move_page = answered(lambda: client.get(f"/move?ids={ring['live'].id}"))
    file_zip = answered(lambda: client.get(f"/folders/{music.id}/zip"))

    assert folder_page.status_code == 200
    assert "Live" in folder_page.text and "Films" in folder_page.text
    assert search_page.status_code == 200
    assert all(name in search_page.text for name in ("song", "film", "live"))
    assert move_page.status_code == 200 and films.id in move_page.text
    assert sorted(open_zip(file_zip)) == [
        "Music/",
        "Music/Films/",
        "Music/Films/film.txt",
        "Music/Live/",
        "Music/Live/live.txt",
        "Music/song.txt",
    ]


def test_api_calls_on_a_cyclic_tree_answer(app, client, alice, api_headers, ring):
    headers = api_headers(alice)
    music, films = ring["music"], ring["films"]
    outside = client.post("/api/v1/folders", headers=headers, json={"name": "Out"})

    listing = answered(
        lambda: client.get(f"/api/v1/folders/{films.id}", headers=headers)
    )
    moved = answered(
        lambda: client.patch(
            f"/api/v1/folders/{outside.json['id']}",
            headers=headers,
            json={"parent_id": films.id},
        )
    )
    into_itself = answered(
        lambda: client.patch(
            f"/api/v1/folders/{music.id}", headers=headers, json={"parent_id": films.id}
        )
    )

    assert listing.status_code == 200
    assert [folder["name"] for folder in listing.json["folders"]] == ["Music"]
    assert moved.status_code == 200
    assert into_itself.status_code == 200  # already there: nothing to do


def test_trash_restore_and_delete_of_a_cyclic_tree_end(
    app, client, alice, api_headers, ring
):
    headers = api_headers(alice)
    music = ring["music"]

    trashed = answered(
        lambda: client.delete(f"/api/v1/folders/{music.id}", headers=headers)
    )
    in_trash = answered(lambda: client.get("/api/v1/trash", headers=headers)).json
    restored = answered(
        lambda: client.post(f"/api/v1/trash/{music.id}/restore", headers=headers)
    )
    client.delete(f"/api/v1/folders/{music.id}", headers=headers)
    deleted = answered(
        lambda: client.delete(f"/api/v1/trash/{music.id}", headers=headers)
    )

    assert trashed.status_code == 204
    assert [(item["name"], item["size"]) for item in in_trash["items"]] == [
        ("Music", 20)
    ]
    assert restored.status_code == 200
    assert deleted.status_code == 204
    with app.app_context():
        # What is left is the path "Music/Films" the restore made again, as
        # the trashed Films it came from was no place to go back to.
        left = db.session.scalars(select(Node).order_by(Node.name)).all()
        assert [(node.name, node.is_folder) for node in left] == [
            ("Films", True),
            ("Music", True),
        ]
        assert db.session.get(User, alice.id).used_bytes == 0


def test_a_folder_link_into_a_cyclic_tree_answers(app, client, alice, ring):
    link = make_link(app, alice, ring["music"])

    page = answered(lambda: client.get(f"{link.url}/f/{ring['films'].id}"))

    assert page.status_code == 200
    assert "film.txt" in page.text


# --- fsck finds what is cut off and reattaches it ------------------------------------


@pytest.fixture
def broken(app, alice, make_folder, upload, trash_item, ring):
    """Besides the ring: a 3-cycle, a folder row gone, a live file in the trash."""
    healthy = make_folder(alice, "Healthy")
    upload(alice, "fine.txt", b"fine\n", folder_id=healthy.id)
    x, y, z = (make_folder(alice, name) for name in "XYZ")
    for folder in (x, y, z):
        upload(alice, f"{folder.name.lower()}.txt", b"3", folder_id=folder.id)
    tie_in_a_ring(app, x, y, z)
    gone = make_folder(alice, "Gone")
    docs = make_folder(alice, "Docs", gone.id)
    upload(alice, "doc.txt", b"document\n", folder_id=docs.id)
    lost = upload(alice, "notes.txt", b"lost notes\n", folder_id=gone.id)
    old = make_folder(alice, "Old")
    left = upload(alice, "notes.txt", b"left behind\n", folder_id=old.id)
    trash_item(alice, old)
    with app.app_context():
        # The row goes; its children keep their parent_key (parent_id is set null).
        db.session.execute(delete(Node).where(Node.id == gone.id))
        db.session.execute(
            update(Node)
            .where(Node.id == left.id)
            .values(trashed_at=None, trash_root_id=None)
        )
        db.session.commit()
    return {"gone": gone, "docs": docs, "lost": lost, "old": old, "left": left}


def files_as_stored(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(Node.id, Node.size, Node.sha256, Node.storage_key, Node.trashed_at)
            .where(Node.is_folder.is_(False))
            .order_by(Node.id)
        ).all()


def fsck_lines(runner, *options) -> tuple[int, list[str]]:
    result = runner.invoke(args=["fsck", "--quick", *options])
    assert isinstance(result.exception, SystemExit | None), result.exception
    return result.exit_code, result.output.splitlines()


def test_fsck_reports_cycles_and_lost_parents(app, runner, alice, ring, broken):
    code, lines = fsck_lines(runner)

    assert code == 1
    cycles = sorted(line for line in lines if line.startswith("tree_cycle: "))
    orphans = sorted(line for line in lines if line.startswith("orphan_node: "))
    assert len(cycles) == 2, lines
    for names, holding in (
        (("Films", "Music"), "3 files (20 bytes)"),
        (
            ("X", "Y", "Z"),
            "3 files (3 bytes)",
        ),
    ):
        [line] = [line for line in cycles if f"“{names[0]}”" in line]
        assert line.startswith(
            "tree_cycle: Folders of alice@example.com are inside each other, cut "
            "off from the root: "
        )
        assert line.endswith(f"; they hold {holding}.")
        assert all(f"“{name}”" in line for name in names)
    gone, docs, lost, left = (broken[key] for key in ("gone", "docs", "lost", "left"))
    assert orphans == sorted(
        [
            f"orphan_node: File “notes.txt” ({lost.id}) of alice@example.com is cut "
            f"off from the root: the folder it was in ({gone.id}) is gone; 11 bytes.",
            f"orphan_node: Folder “Docs” ({docs.id}) of alice@example.com is cut off "
            f"from the root: the folder it was in ({gone.id}) is gone; it holds "
            "1 file (9 bytes).",
            f"orphan_node: File “notes.txt” ({left.id}) of alice@example.com is cut "
            "off from the root: the folder it is in, “Old”, is in the trash; "
            "12 bytes.",
        ]
    )
    assert lines[-1] == "5 problems found; --repair would fix 5."
    assert unreachable_from_the_root(app, alice) != []


def test_fsck_repair_puts_everything_cut_off_in_recovered(
    app, runner, client, alice, api_headers, ring, broken
):
    files_before = files_as_stored(app)
    with app.app_context():
        used_before = db.session.get(User, alice.id).used_bytes

    code, lines = fsck_lines(runner, "--repair")
    _, again = fsck_lines(runner)

    assert code == 1
    repaired = [line for line in lines if line.startswith(("tree_", "orphan_"))]
    assert len(repaired) == 5
    assert all(
        "Repaired: moved into “Recovered” in the root" in line for line in repaired
    )
    assert lines[-1] == "5 problems found, 5 repaired."
    assert again == ["No problems found."]
    assert unreachable_from_the_root(app, alice) == []
    assert files_as_stored(app) == files_before
    with app.app_context():
        assert db.session.get(User, alice.id).used_bytes == used_before
    headers = api_headers(alice)
    root = client.get("/api/v1/folders/root", headers=headers).json
    assert [folder["name"] for folder in root["folders"]] == ["Healthy", "Recovered"]
    recovered = client.get(
        f"/api/v1/folders/{root['folders'][1]['id']}", headers=headers
    ).json
    # A cycle is cut at its first folder by name.
    assert [folder["name"] for folder in recovered["folders"]] == ["Docs", "Films", "X"]
    assert sorted(file["name"] for file in recovered["files"]) == [
        "notes (1).txt",
        "notes.txt",
    ]
    films = client.get(f"/api/v1/folders/{ring['films'].id}", headers=headers).json
    assert [folder["name"] for folder in films["folders"]] == ["Music"]


def test_fsck_repair_reuses_the_recovered_folder(app, runner, alice, make_folder, ring):
    recovered = make_folder(alice, "Recovered")
    make_folder(alice, "Films", recovered.id)

    code, lines = fsck_lines(runner, "--repair")

    assert code == 1
    [line] = [line for line in lines if line.startswith("tree_cycle: ")]
    assert line.endswith("Repaired: moved into “Recovered” in the root as “Films (1)”.")
    with app.app_context():
        inside = db.session.scalars(
            select(Node.name).where(Node.parent_id == recovered.id).order_by(Node.name)
        ).all()
    assert inside == ["Films", "Films (1)"]
    assert fsck_lines(runner) == (0, ["No problems found."])
