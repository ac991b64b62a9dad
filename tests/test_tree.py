"""Folders in the browser: creating, browsing, names, rename and move, sorting."""

import html
import re
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from tests.conftest import csrf_token_from
from tests.factories import PNG
from tests.helpers import blobs, listed_names, live_nodes, node, post_form

MISSING_ID = "0" * 32


def crumbs(page: str) -> list[str]:
    nav = re.search(r'<nav class="crumbs".*?</nav>', page, re.S).group(0)
    items = re.findall(r"<li>(.*?)</li>", nav, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", item)).strip() for item in items]


def shown_dates(page: str) -> list[str]:
    return re.findall(r'<td class="[^"]*date[^"]*"><time datetime="([^"]+)"', page)


def new_folder(client, name, parent_id=""):
    return post_form(client, "/folders", {"name": name, "parent_id": parent_id})


def move(client, target_id, *node_ids):
    return post_form(client, "/move", {"ids": list(node_ids), "target": target_id})


def rename(client, node_id, name):
    return post_form(client, f"/items/{node_id}/rename", {"name": name})


# --- creating and browsing -----------------------------------------------------


def test_folders_nest_and_the_page_shows_the_path(client, app, as_alice):
    assert new_folder(client, "Work").status_code == 302
    [work] = live_nodes(app)
    response = new_folder(client, "2024 “reports”", work.id)
    [reports] = [item for item in live_nodes(app) if item.parent_id == work.id]

    assert urlsplit(response.headers["Location"]).path == f"/folders/{work.id}"
    assert (reports.is_folder, reports.name) == (True, "2024 “reports”")
    page = client.get(f"/folders/{reports.id}").get_data(as_text=True)
    assert crumbs(page) == ["My files", "Work", "2024 “reports”"]
    assert f'href="/folders/{work.id}"' in page
    assert "This folder is empty." in page
    assert listed_names(client.get(f"/folders/{work.id}").text) == ["2024 “reports”"]
    assert listed_names(client.get("/").text) == ["Work"]


def test_a_folder_lists_only_its_own_children(client, as_alice, upload, make_folder):
    photos = make_folder(as_alice, "Photos")
    upload(as_alice, "inside.txt", folder_id=photos.id)
    upload(as_alice, "outside.txt")

    assert listed_names(client.get(f"/folders/{photos.id}").text) == ["inside.txt"]
    assert listed_names(client.get("/").text) == ["Photos", "outside.txt"]


@pytest.mark.parametrize("name", ["", "   ", "/", ".."])
def test_folder_without_a_usable_name_is_refused(client, app, as_alice, name):
    response = new_folder(client, name)

    assert response.status_code == 400
    assert live_nodes(app) == []


def test_someone_elses_folder_is_not_found_like_a_missing_one(
    client, app, auth, alice, bob, make_folder
):
    folder = make_folder(alice, "Alice's private folder")
    auth.login("bob@example.com")

    for folder_id in (folder.id, MISSING_ID):
        assert client.get(f"/folders/{folder_id}").status_code == 404
        assert new_folder(client, "Planted", folder_id).status_code == 404
    assert [item.name for item in live_nodes(app)] == ["Alice's private folder"]


# --- names are unique per folder ------------------------------------------------


@pytest.mark.parametrize("taken", ["photos", "PHOTOS", "Photos"])
def test_folder_name_taken_case_insensitively_is_a_conflict(
    client, app, as_alice, make_folder, taken
):
    make_folder(as_alice, "Photos")

    response = new_folder(client, taken)

    assert response.status_code == 409
    assert "There is already an item named" in response.text
    assert [item.name for item in live_nodes(app)] == ["Photos"]


def test_a_file_and_a_folder_cannot_share_a_name(client, app, as_alice, upload):
    upload(as_alice, "Report.txt")

    response = new_folder(client, "report.TXT")

    assert response.status_code == 409
    assert [item.name for item in live_nodes(app)] == ["Report.txt"]


def test_the_same_name_is_fine_in_another_folder(client, app, as_alice, make_folder):
    work = make_folder(as_alice, "Work")
    make_folder(as_alice, "Drafts")

    assert new_folder(client, "drafts", work.id).status_code == 302
    assert sorted(item.name for item in live_nodes(app)) == ["Drafts", "Work", "drafts"]


def test_rename_into_a_taken_name_is_a_conflict(client, app, as_alice, upload):
    upload(as_alice, "a.txt")
    other = upload(as_alice, "b.txt")

    response = rename(client, other.id, "A.TXT")

    assert response.status_code == 409
    assert node(app, other.id).name == "b.txt"


def test_rename_may_change_only_the_case(client, app, as_alice, upload):
    file = upload(as_alice, "notes.txt")

    assert rename(client, file.id, "Notes.txt").status_code == 302
    assert node(app, file.id).name == "Notes.txt"


def test_move_into_a_folder_holding_the_name_is_a_conflict(
    client, app, as_alice, upload, make_folder
):
    folder = make_folder(as_alice, "Work")
    upload(as_alice, "plan.txt", b"inside", folder_id=folder.id)
    outside = upload(as_alice, "PLAN.txt", b"outside")

    response = move(client, folder.id, outside.id)

    assert response.status_code == 409
    assert "already an item named" in response.text
    assert node(app, outside.id).parent_id is None


# --- rename and move: rows only, never bytes ------------------------------------


def test_rename_and_move_of_a_file_leave_its_bytes_alone(
    client, app, as_alice, upload, make_folder
):
    folder = make_folder(as_alice, "Archive")
    file = upload(as_alice, "draft.txt", b"the words")
    before = blobs(app)

    assert rename(client, file.id, "final.txt").status_code == 302
    assert move(client, folder.id, file.id).status_code == 302

    moved = node(app, file.id)
    assert (moved.name, moved.parent_id) == ("final.txt", folder.id)
    assert moved.storage_key == file.storage_key
    assert blobs(app) == before
    assert client.get(f"/files/{file.id}/download").data == b"the words"


def test_rename_and_move_of_a_folder_carry_its_contents(
    client, app, as_alice, upload, make_folder
):
    source = make_folder(as_alice, "Old name")
    target = make_folder(as_alice, "Target")
    file = upload(as_alice, "inside.txt", b"kept", folder_id=source.id)
    before = blobs(app)

    assert rename(client, source.id, "New name").status_code == 302
    response = move(client, target.id, source.id)

    assert urlsplit(response.headers["Location"]).path == f"/folders/{target.id}"
    assert node(app, source.id).parent_id == target.id
    assert node(app, file.id).parent_id == source.id
    assert blobs(app) == before
    page = client.get(f"/folders/{source.id}").text
    assert crumbs(page) == ["My files", "Target", "New name"]
    assert listed_names(page) == ["inside.txt"]


def test_move_to_the_top_level(client, app, as_alice, upload, make_folder):
    folder = make_folder(as_alice, "Work")
    file = upload(as_alice, "notes.txt", folder_id=folder.id)

    assert move(client, "", file.id).status_code == 302
    assert node(app, file.id).parent_id is None


def test_move_several_at_once(client, as_alice, upload, make_folder):
    folder = make_folder(as_alice, "Work")
    first = upload(as_alice, "a.txt")
    second = make_folder(as_alice, "Sub")

    response = move(client, folder.id, first.id, second.id)

    assert response.status_code == 302
    assert listed_names(client.get(response.headers["Location"]).text) == [
        "Sub",
        "a.txt",
    ]


def test_a_refused_move_of_several_moves_none_of_them(
    client, app, as_alice, upload, make_folder
):
    folder = make_folder(as_alice, "Work")
    upload(as_alice, "b.txt", b"already there", folder_id=folder.id)
    first = upload(as_alice, "a.txt")
    second = upload(as_alice, "B.TXT")

    response = move(client, folder.id, first.id, second.id)

    assert response.status_code == 409
    assert node(app, first.id).parent_id is None
    assert node(app, second.id).parent_id is None


def test_move_dialog_never_offers_the_folder_itself_or_its_subfolders(
    client, as_alice, make_folder
):
    top = make_folder(as_alice, "Top")
    below = make_folder(as_alice, "Below", top.id)
    elsewhere = make_folder(as_alice, "Elsewhere")

    page = client.get(f"/move?ids={top.id}").text

    offered = re.findall(r'<option[^>]*value="([^"]*)"', page)
    assert elsewhere.id in offered
    assert top.id not in offered
    assert below.id not in offered


@pytest.mark.parametrize("into", ["itself", "its subfolder"])
def test_a_folder_cannot_be_moved_into_its_own_subtree(
    client, app, as_alice, make_folder, into
):
    top = make_folder(as_alice, "Top")
    below = make_folder(as_alice, "Below", top.id)
    target = top if into == "itself" else below

    response = move(client, target.id, top.id)

    assert response.status_code in (400, 409)
    assert node(app, top.id).parent_id is None


def test_move_to_someone_elses_folder_is_refused_like_a_missing_one(
    client, app, auth, alice, bob, upload, make_folder
):
    theirs = make_folder(alice, "Alice's folder")
    mine = upload(bob, "bob.txt")
    auth.login("bob@example.com")

    to_theirs = move(client, theirs.id, mine.id)
    to_missing = move(client, MISSING_ID, mine.id)

    assert to_theirs.status_code == to_missing.status_code != 302
    assert "Alice" not in to_theirs.text
    assert node(app, mine.id).parent_id is None


def test_names_with_markup_are_shown_as_text(client, as_alice, upload, make_folder):
    folder = make_folder(as_alice, "<b onclick=alert(1)>bold")
    file = upload(as_alice, "<img src=x onerror=alert(1)>.txt", folder_id=folder.id)

    pages = [
        client.get(f"/folders/{folder.id}").text,
        client.get("/").text,
        client.get("/search?q=bold").text,
        client.get(f"/files/{file.id}/preview").text,
        client.get(f"/items/{file.id}/rename").text,
    ]

    for page in pages:
        assert "<b onclick" not in page
        assert "<img src=x" not in page
    assert "&lt;b onclick=alert(1)&gt;bold" in pages[0]


# --- rename: a file keeps a type that matches its bytes ------------------------


@pytest.mark.parametrize(
    ("original", "content", "new_name", "message"),
    [
        ("notes.txt", b"text", "notes.jpg", "its content is not a valid JPG file"),
        ("notes.txt", b"text", "notes.png", "its content is not a valid PNG file"),
        ("photo.png", PNG, "photo.pdf", "its content is not a valid PDF file"),
    ],
    ids=["text-as-jpg", "text-as-png", "png-as-pdf"],
)
def test_rename_to_a_type_the_file_is_not_is_refused(
    client, app, as_alice, upload, original, content, new_name, message
):
    file = upload(as_alice, original, content)

    response = rename(client, file.id, new_name)

    assert response.status_code == 415
    assert message in response.text
    assert node(app, file.id).name == original


def test_rename_to_another_matching_type_updates_the_content_type(
    client, app, as_alice, upload
):
    file = upload(as_alice, "notes.txt", b"a,b\n")

    assert rename(client, file.id, "table.csv").status_code == 302
    assert node(app, file.id).content_type == "text/csv"


def test_rename_refuses_what_an_upload_would_clean(client, app, as_alice, upload):
    file = upload(as_alice, "notes.txt")

    response = rename(client, file.id, "evil\u202etxt.txt")

    assert response.status_code == 400
    assert "invisible text-direction characters" in response.text
    assert node(app, file.id).name == "notes.txt"


# --- sorting and pagination ----------------------------------------------------


@pytest.fixture
def three_files(as_alice, upload, make_folder):
    upload(as_alice, "b.txt", b"x" * 30, now=datetime(2024, 1, 1))
    upload(as_alice, "c.txt", b"x" * 10, now=datetime(2024, 3, 1))
    upload(as_alice, "A.txt", b"x" * 20, now=datetime(2024, 2, 1))
    make_folder(as_alice, "zz folder", now=datetime(2023, 1, 1))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["zz folder", "A.txt", "b.txt", "c.txt"]),
        ("?sort=name&order=desc", ["zz folder", "c.txt", "b.txt", "A.txt"]),
        ("?sort=size", ["zz folder", "c.txt", "A.txt", "b.txt"]),
        ("?sort=size&order=desc", ["zz folder", "b.txt", "A.txt", "c.txt"]),
        ("?sort=date", ["zz folder", "b.txt", "A.txt", "c.txt"]),
        ("?sort=date&order=desc", ["zz folder", "c.txt", "A.txt", "b.txt"]),
        (
            "?sort=nonsense&order=sideways&page=x",
            ["zz folder", "A.txt", "b.txt", "c.txt"],
        ),
    ],
)
def test_folder_page_sorts_folders_first_then_by_the_chosen_column(
    client, three_files, query, expected
):
    response = client.get(f"/{query}")

    assert response.status_code == 200
    assert listed_names(response.text) == expected


def test_sorting_by_date_follows_the_dates_shown(client, as_alice, upload):
    older = upload(as_alice, "older.txt", now=datetime(2024, 1, 1))
    upload(as_alice, "newer.txt", now=datetime(2024, 6, 1))
    rename(client, older.id, "renamed-today.txt")

    page = client.get("/?sort=date&order=desc").text

    dates = shown_dates(page)
    assert len(dates) == 2
    assert dates == sorted(dates, reverse=True)


def test_a_big_folder_is_shown_in_pages_of_200(client, as_alice, make_folder):
    big = make_folder(as_alice, "Big")
    for number in range(203):
        make_folder(as_alice, f"f{number:03}", big.id)
    url = f"/folders/{big.id}"

    first = client.get(url).text
    second = client.get(f"{url}?page=2").text
    beyond = client.get(f"{url}?page=9")

    assert listed_names(first) == [f"f{number:03}" for number in range(200)]
    assert listed_names(second) == ["f200", "f201", "f202"]
    assert "Page 2 of 2 · 203 items" in second
    assert 'page=2" rel="next"' in first
    assert 'rel="next"' not in second
    assert beyond.status_code == 200
    assert listed_names(beyond.text) == []


def test_pages_keep_the_sort_order(client, as_alice, make_folder):
    for number in range(201):
        make_folder(as_alice, f"f{number:03}")

    page = client.get("/?sort=name&order=desc&page=2").text

    assert listed_names(page) == ["f000"]
    assert "sort=name&amp;order=desc&amp;page=1" in page


def test_the_toolbar_opens_the_move_form_for_its_selection(
    client, as_alice, upload, make_folder
):
    make_folder(as_alice, "Work")
    picked = upload(as_alice, "a.txt")
    token = csrf_token_from(client.get("/").text)

    response = client.post("/move", data={"ids": picked.id, "csrf_token": token})

    assert response.status_code == 200
    assert "Move “a.txt”" in response.text
    assert "Work" in response.text
