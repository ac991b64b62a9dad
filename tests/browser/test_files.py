"""Working with files and folders on the folder page, as a person would."""

import zipfile

from playwright.sync_api import expect

from tests.browser.actions import (
    crumbs,
    main_nav,
    open_folder,
    open_row_menu,
    row,
)
from tests.browser.conftest import screenshot


def new_folder(page, name):
    page.get_by_role("button", name="New folder").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text(
        f"New folder in {crumbs(page).last.inner_text()}"
    )
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_text(f"Created the folder “{name}”.")).to_be_visible()


def test_create_folders_inside_folders(alice_page):
    page = alice_page
    expect(page.get_by_text("No files yet.")).to_be_visible()

    new_folder(page, "Projects")
    expect(row(page, "Projects")).to_contain_text("Folder")
    open_folder(page, "Projects")
    expect(page.get_by_text("This folder is empty.")).to_be_visible()
    new_folder(page, "2024")
    open_folder(page, "2024")

    expect(crumbs(page)).to_have_text(["My files", "Projects", "2024"])
    expect(page).to_have_title("2024 · vault")
    crumbs(page).get_by_role("link", name="Projects").click()
    expect(row(page, "2024")).to_be_visible()


def test_rename_a_file_from_its_menu(alice_page, alice, upload):
    page = alice_page
    upload(alice, "notes.txt", b"meeting notes\n")
    page.reload()

    open_row_menu(page, "notes.txt")
    page.get_by_role("link", name="Rename notes.txt").click()
    dialog = page.get_by_role("dialog", name="Rename file")
    name = dialog.get_by_label("New name")
    expect(name).to_have_value("notes.txt")
    expect(name).to_be_focused()
    name.fill("minutes.txt")
    dialog.get_by_role("button", name="Rename").click()

    expect(page.get_by_text("Renamed to “minutes.txt”.")).to_be_visible()
    expect(row(page, "minutes.txt")).to_be_visible()
    expect(row(page, "notes.txt")).to_have_count(0)


def test_move_a_file_by_dragging_it_onto_a_folder(
    alice_page, alice, upload, make_folder
):
    page = alice_page
    make_folder(alice, "Archive")
    upload(alice, "old-notes.txt", b"from last year\n")
    upload(alice, "todo.txt", b"stays here\n")
    page.reload()

    row(page, "old-notes.txt").drag_to(row(page, "Archive"))

    expect(page.get_by_text("Moved “old-notes.txt” to “Archive”.")).to_be_visible()
    expect(row(page, "old-notes.txt")).to_have_count(0)
    expect(row(page, "todo.txt")).to_be_visible()
    open_folder(page, "Archive")
    expect(row(page, "old-notes.txt")).to_be_visible()


def test_move_a_file_with_the_move_dialog(alice_page, alice, upload, make_folder):
    page = alice_page
    projects = make_folder(alice, "Projects")
    make_folder(alice, "2024", projects.id)
    make_folder(alice, "Archive")
    upload(alice, "budget.csv", b"month,amount\n")
    upload(alice, "roadmap.md", b"# Roadmap\n")
    page.reload()

    open_row_menu(page, "roadmap.md")
    page.get_by_role("link", name="Move roadmap.md").click()
    dialog = page.get_by_role("dialog", name="Move “roadmap.md”")
    target = dialog.get_by_label("Move to")
    expect(target).to_be_visible()
    target.select_option(label="Projects/2024")
    screenshot(page, "move-dialog")
    dialog.get_by_role("button", name="Move here").click()

    # The page shows where it went.
    expect(page.get_by_text("Moved 1 item.")).to_be_visible()
    expect(crumbs(page)).to_have_text(["My files", "Projects", "2024"])
    expect(row(page, "roadmap.md")).to_be_visible()
    crumbs(page).get_by_role("link", name="My files").click()
    expect(row(page, "roadmap.md")).to_have_count(0)
    expect(row(page, "budget.csv")).to_be_visible()


def test_search_finds_files_in_any_folder(alice_page, alice, upload, make_folder):
    page = alice_page
    projects = make_folder(alice, "Projects")
    year = make_folder(alice, "2024", projects.id)
    upload(alice, "holiday plan.md", b"# Plan\n")
    upload(alice, "plan.txt", b"the plan\n", folder_id=year.id)
    upload(alice, "other.txt", b"not found\n", folder_id=year.id)
    page.reload()

    search = page.get_by_role("searchbox", name="Search my files")
    search.fill("plan")
    search.press("Enter")

    expect(page.get_by_role("heading", name="Search")).to_be_visible()
    expect(page.get_by_text("2 results.")).to_be_visible()
    results = page.get_by_role("row")
    expect(results.filter(has_text="holiday plan.md")).to_contain_text("My files")
    found = results.filter(has_text="plan.txt").filter(has_not_text="holiday")
    expect(found).to_contain_text("Projects/2024")
    expect(results.filter(has_text="other.txt")).to_have_count(0)
    screenshot(page, "search")

    found.get_by_role("link", name="Projects/2024").click()
    expect(crumbs(page)).to_have_text(["My files", "Projects", "2024"])


def test_select_two_files_and_download_them_as_a_zip(alice_page, alice, upload):
    page = alice_page
    upload(alice, "a.txt", b"first file\n")
    upload(alice, "b.txt", b"second file\n")
    upload(alice, "c.txt", b"not chosen\n")
    page.reload()

    page.get_by_role("checkbox", name="Select a.txt").check()
    page.get_by_role("checkbox", name="Select b.txt").check()
    toolbar = page.get_by_role("toolbar", name="Selected items")
    expect(toolbar).to_contain_text("2 selected")
    with page.expect_download() as download_info:
        toolbar.get_by_role("button", name="Download as zip").click()
    download = download_info.value

    assert download.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(download.path()) as archive:
        assert sorted(archive.namelist()) == ["a.txt", "b.txt"]
        assert archive.read("a.txt") == b"first file\n"
        assert archive.read("b.txt") == b"second file\n"


def test_delete_to_the_trash_then_restore(alice_page, alice, upload, make_folder):
    page = alice_page
    projects = make_folder(alice, "Projects")
    upload(alice, "plan.txt", b"the plan\n", folder_id=projects.id)
    upload(alice, "draft.txt", b"a draft\n")
    page.reload()

    # With the selection toolbar...
    page.get_by_role("checkbox", name="Select draft.txt").check()
    page.get_by_role("toolbar", name="Selected items").get_by_role(
        "button", name="Delete"
    ).click()
    expect(page.get_by_text("Moved 1 item to the trash.")).to_be_visible()
    expect(row(page, "draft.txt")).to_have_count(0)
    # ...and with a row's menu.
    open_folder(page, "Projects")
    open_row_menu(page, "plan.txt")
    page.get_by_role("button", name="Delete plan.txt").click()
    expect(page.get_by_text("Moved 1 item to the trash.")).to_be_visible()
    expect(page.get_by_text("This folder is empty.")).to_be_visible()

    main_nav(page).get_by_role("link", name="Trash").click()
    expect(page.get_by_role("heading", name="Trash")).to_be_visible()
    trashed = page.get_by_role("row").filter(has_text="plan.txt")
    expect(trashed).to_contain_text("Projects")
    expect(page.get_by_role("row").filter(has_text="draft.txt")).to_be_visible()
    screenshot(page, "trash")
    trashed.get_by_role("button", name="Restore plan.txt").click()

    # Back in its folder, and no longer in the trash.
    expect(page.get_by_text("Restored “plan.txt”.")).to_be_visible()
    expect(crumbs(page)).to_have_text(["My files", "Projects"])
    expect(row(page, "plan.txt")).to_be_visible()
    main_nav(page).get_by_role("link", name="Trash").click()
    expect(page.get_by_role("row").filter(has_text="draft.txt")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="plan.txt")).to_have_count(0)
