"""A corrupt tree: every page still answers, and fsck puts the lost items back.

The trees here are broken directly in the database, as a past bug or a
restore from a bad backup could leave them: folders inside each other. Every
recursive query must still end.
"""

import threading

import pytest
from sqlalchemy import select, update

from tests.conftest import TEST_DATABASE_URL, base_config
from tests.test_shares_public import make_link, open_zip
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
