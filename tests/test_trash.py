"""The trash: deleting, listing, restoring, deleting for good, purging old items."""

import html
import io
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from tests.helpers import (
    blobs,
    error_of,
    linked_ids,
    listed_names,
    live_nodes,
    node,
    nodes,
    post_form,
    used_bytes,
)
from vault.models import utcnow

pytestmark = pytest.mark.bytes


def trash_names(page: str) -> list[str]:
    return [
        html.unescape(name)
        for name in re.findall(r'aria-label="Restore ([^"]*)"', page)
    ]


@pytest.fixture
def headers(alice, api_headers):
    return api_headers(alice)


@pytest.fixture
def work(alice, upload, make_folder):
    """Work/{a.txt, Sub/b.txt}: a folder with a subtree and 7 bytes in it."""
    folder = make_folder(alice, "Work")
    sub = make_folder(alice, "Sub", folder.id)
    upload(alice, "a.txt", b"abc", folder_id=folder.id)
    upload(alice, "b.txt", b"defg", folder_id=sub.id)
    return folder


# --- deleting ---------------------------------------------------------------------


def test_deleting_a_folder_trashes_its_whole_subtree(client, app, as_alice, work):
    before = blobs(app)

    response = post_form(client, "/items/trash", {"id": work.id})

    assert response.status_code == 302
    assert live_nodes(app) == []
    assert {item.trash_root_id for item in nodes(app)} == {work.id}
    assert blobs(app) == before
    assert used_bytes(app, as_alice) == 7
    assert client.get("/").text.count("No files yet.") == 1


def test_trashed_items_are_gone_everywhere_but_the_trash(
    client, app, as_alice, headers, work, trash_item
):
    inside = next(item for item in nodes(app) if item.name == "b.txt")
    assert listed_names(client.get("/").text) == ["Work"]
    assert linked_ids(client.get("/search?q=b.txt").text) == [inside.id]

    trash_item(as_alice, work)

    assert client.get(f"/folders/{work.id}").status_code == 404
    assert client.get(f"/files/{inside.id}/download").status_code == 404
    assert client.get(f"/files/{inside.id}/view").status_code == 404
    renamed = post_form(client, f"/items/{inside.id}/rename", {"name": "x.txt"})
    moved = post_form(client, "/move", {"ids": inside.id, "target": ""})
    assert renamed.status_code == moved.status_code == 404
    assert listed_names(client.get("/").text) == []
    assert linked_ids(client.get("/search?q=b.txt").text) == []
    assert client.get("/api/v1/files", headers=headers).get_json()["files"] == []
    root = client.get("/api/v1/folders/root", headers=headers).get_json()
    assert root["folders"] == root["files"] == []


def test_deleting_several_is_all_or_nothing(client, app, as_alice, upload, bob):
    mine = upload(as_alice, "mine.txt")
    theirs = upload(bob, "theirs.txt")

    response = post_form(client, "/items/trash", {"ids": [mine.id, theirs.id]})

    assert response.status_code == 404
    assert {item.name for item in live_nodes(app)} == {"mine.txt", "theirs.txt"}


@pytest.mark.parametrize(
    "app_config", [{"DEFAULT_QUOTA": "10 B"}], indirect=["app_config"]
)
def test_trashed_bytes_count_against_the_quota_until_purged(
    client, app, alice, headers, upload, trash_item
):
    trash_item(alice, upload(alice, "big.txt", b"12345678"))

    def send():
        data = {"file": (io.BytesIO(b"12345"), "new.txt")}
        return client.post("/api/v1/files", headers=headers, data=data)

    error_of(send(), 507, "quota_exceeded")
    client.delete("/api/v1/trash", headers=headers)
    assert send().status_code == 201
    assert used_bytes(app, alice) == 5


# --- listing ----------------------------------------------------------------------


def test_trash_lists_only_what_was_deleted_with_size_and_origin(
    client, as_alice, headers, work, upload, make_folder, trash_item
):
    projects = make_folder(as_alice, "Projects")
    year = make_folder(as_alice, "2024", projects.id)
    single = upload(as_alice, "plan.txt", b"12345", folder_id=year.id)
    trash_item(as_alice, work, now=utcnow() - timedelta(hours=1))
    trash_item(as_alice, single)

    page = client.get("/trash/").text
    items = client.get("/api/v1/trash", headers=headers).get_json()["items"]

    assert trash_names(page) == ["plan.txt", "Work"]
    assert "Projects/2024" in page
    assert "7 bytes" in page
    assert [
        (item["name"], item["type"], item["size"], item["original_path"])
        for item in items
    ] == [("plan.txt", "file", 5, "Projects/2024"), ("Work", "folder", 7, "")]
    assert set(items[0]) == {
        "id",
        "type",
        "name",
        "size",
        "original_path",
        "trashed_at",
    }
    assert items[0]["trashed_at"].endswith("Z")


def test_trashed_bytes_still_count_and_the_page_says_so(
    client, as_alice, upload, trash_item
):
    upload(as_alice, "kept.txt", b"12")
    trash_item(as_alice, upload(as_alice, "gone.txt", b"12345"))

    page = client.get("/").text

    assert "7 bytes used" in page
    assert "5 bytes in the trash" in page


def test_an_empty_trash_says_so(client, as_alice):
    assert "The trash is empty." in client.get("/trash/").text


def test_someone_elses_trash_stays_theirs(
    client, app, alice, bob, api_headers, upload, trash_item
):
    trash_item(alice, upload(alice, "alice.txt", b"private"))

    assert client.get("/api/v1/trash", headers=api_headers(bob)).get_json() == {
        "items": []
    }
    assert client.delete("/api/v1/trash", headers=api_headers(bob)).status_code == 204
    assert [item.name for item in nodes(app)] == ["alice.txt"]


# --- restoring --------------------------------------------------------------------


def test_restore_puts_a_folder_back_where_it_was(
    client, app, as_alice, upload, make_folder, trash_item
):
    parent = make_folder(as_alice, "Parent")
    child = make_folder(as_alice, "Child", parent.id)
    inside = upload(as_alice, "inside.txt", folder_id=child.id)
    trash_item(as_alice, child)

    response = post_form(client, f"/trash/{child.id}/restore")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/folders/{parent.id}"
    assert {item.id for item in live_nodes(app)} == {parent.id, child.id, inside.id}
    assert node(app, child.id).parent_id == parent.id
    assert "Restored “Child”." in client.get(response.headers["Location"]).text
    assert trash_names(client.get("/trash/").text) == []


def test_restore_through_the_api(client, app, alice, headers, work, trash_item):
    trash_item(alice, work)

    response = client.post(f"/api/v1/trash/{work.id}/restore", headers=headers)

    assert response.status_code == 200
    assert response.get_json() == {"id": work.id, "name": "Work", "parent_id": None}
    assert len(live_nodes(app)) == 4


def test_restore_recreates_a_parent_path_that_was_purged(
    client, app, alice, headers, upload, make_folder, trash_item
):
    top = make_folder(alice, "Top")
    middle = make_folder(alice, "Middle", top.id)
    file = upload(alice, "letter.txt", b"dear", folder_id=middle.id)
    trash_item(alice, file)
    trash_item(alice, top)
    client.delete(f"/api/v1/trash/{top.id}", headers=headers)

    response = client.post(f"/api/v1/trash/{file.id}/restore", headers=headers)

    assert response.status_code == 200
    restored = node(app, file.id)
    recreated_middle = node(app, restored.parent_id)
    recreated_top = node(app, recreated_middle.parent_id)
    assert (recreated_top.name, recreated_middle.name) == ("Top", "Middle")
    assert recreated_top.parent_id is None
    assert {top.id, middle.id}.isdisjoint({recreated_top.id, recreated_middle.id})
    assert blobs(app)[file.storage_key] == b"dear"


def test_restore_when_the_parent_is_in_the_trash_recreates_it(
    client, app, alice, headers, upload, make_folder, trash_item
):
    folder = make_folder(alice, "Folder")
    file = upload(alice, "letter.txt", folder_id=folder.id)
    trash_item(alice, file)
    trash_item(alice, folder)

    client.post(f"/api/v1/trash/{file.id}/restore", headers=headers)

    parent = node(app, node(app, file.id).parent_id)
    assert (parent.name, parent.trashed_at, parent.parent_id) == ("Folder", None, None)
    trash = client.get("/api/v1/trash", headers=headers).get_json()["items"]
    assert [item["id"] for item in trash] == [folder.id]


@pytest.mark.parametrize(
    ("name", "is_folder", "comes_back_as"),
    [("notes.txt", False, "notes (1).txt"), ("Photos", True, "Photos (1)")],
)
def test_restore_into_a_taken_name_keeps_both(
    client, app, alice, headers, upload, make_folder, trash_item, name, is_folder,
    comes_back_as,
):  # fmt: skip
    create = make_folder if is_folder else upload
    gone = trash_item(alice, create(alice, name))
    create(alice, name.upper())

    response = client.post(f"/api/v1/trash/{gone.id}/restore", headers=headers)

    assert response.get_json()["name"] == comes_back_as
    assert sorted(item.name for item in live_nodes(app)) == sorted(
        [comes_back_as, name.upper()]
    )


def test_only_what_was_deleted_can_be_restored(
    client, app, alice, headers, work, upload, trash_item
):
    live = upload(alice, "live.txt")
    inside = next(item for item in nodes(app) if item.name == "a.txt")
    trash_item(alice, work)

    for item_id in (live.id, inside.id):
        error_of(client.post(f"/api/v1/trash/{item_id}/restore", headers=headers), 404)
    assert node(app, inside.id).trashed_at is not None


# --- deleting for good ------------------------------------------------------------


def test_delete_for_good_removes_a_folders_rows_and_blobs(
    client, app, alice, headers, work, upload, trash_item
):
    kept = upload(alice, "kept.txt", b"12")
    trash_item(alice, work)

    response = client.delete(f"/api/v1/trash/{work.id}", headers=headers)

    assert response.status_code == 204
    assert [item.id for item in nodes(app)] == [kept.id]
    assert blobs(app) == {kept.storage_key: b"12"}
    assert used_bytes(app, alice) == 2


def test_delete_for_good_in_the_browser(client, app, as_alice, work, trash_item):
    trash_item(as_alice, work)

    confirm = client.get(f"/trash/{work.id}/delete")
    response = post_form(client, f"/trash/{work.id}/delete")

    assert "Work" in confirm.text
    assert "everything in it" in confirm.text
    assert response.status_code == 302
    assert nodes(app) == []
    assert blobs(app) == {}
    assert used_bytes(app, as_alice) == 0


def test_delete_for_good_refuses_a_live_item(client, app, alice, headers, work):
    error_of(client.delete(f"/api/v1/trash/{work.id}", headers=headers), 404)
    assert len(live_nodes(app)) == 4


def test_empty_trash_deletes_everything_in_it(
    client, app, as_alice, work, upload, trash_item
):
    kept = upload(as_alice, "kept.txt", b"12")
    trash_item(as_alice, work)
    trash_item(as_alice, upload(as_alice, "gone.txt", b"xyz"))

    confirm = client.get("/trash/empty")
    response = post_form(client, "/trash/empty")

    assert confirm.status_code == 200
    assert "Empty the trash?" in confirm.text
    assert urlsplit(response.headers["Location"]).path == "/trash/"
    assert [item.id for item in nodes(app)] == [kept.id]
    assert blobs(app) == {kept.storage_key: b"12"}
    assert used_bytes(app, as_alice) == 2
    assert "The trash is empty." in client.get("/trash/").text


def test_empty_trash_through_the_api(client, app, alice, headers, work, trash_item):
    trash_item(alice, work)

    assert client.delete("/api/v1/trash", headers=headers).status_code == 204
    assert nodes(app) == []
    assert used_bytes(app, alice) == 0


# --- purging old items ------------------------------------------------------------


def purge_trash(app, runner):
    # The command is registered as a plain click command: under `flask` the
    # FlaskGroup pushes the app context, the test runner does not.
    with app.app_context():
        return runner.invoke(args=["purge-trash"])


@pytest.mark.parametrize(
    ("app_config", "days"), [({}, 30), ({"TRASH_DAYS": 7}, 7)], indirect=["app_config"]
)
def test_purge_trash_deletes_only_items_older_than_trash_days(
    app, runner, alice, upload, trash_item, days
):
    now = utcnow()
    long_ago = now - timedelta(days=days, hours=1)
    old = [
        trash_item(alice, upload(alice, f"old{n}.txt", b"old"), now=long_ago)
        for n in range(2)
    ]
    recent = trash_item(
        alice, upload(alice, "recent.txt", b"new"), now=now - timedelta(days=days - 1)
    )
    live = upload(alice, "live.txt", b"live")

    result = purge_trash(app, runner)

    assert result.exit_code == 0, result.output
    assert "Deleted 2 items for good." in result.output
    assert {item.id for item in nodes(app)} == {recent.id, live.id}
    assert set(blobs(app)) == {recent.storage_key, live.storage_key}
    assert all(item.storage_key not in blobs(app) for item in old)
    assert used_bytes(app, alice) == 7


def test_purge_trash_with_nothing_old_deletes_nothing(app, runner, alice, upload):
    upload(alice, "live.txt")

    result = purge_trash(app, runner)

    assert result.exit_code == 0
    assert "Deleted 0 items for good." in result.output
    assert len(nodes(app)) == 1


@pytest.fixture
def app_config(app_config, request):
    """Let a test change the configuration with indirect parametrization."""
    app_config.update(getattr(request, "param", {}))
    return app_config
