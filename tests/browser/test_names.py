"""Names a person types in the browser: kept as typed, or refused with the reason."""

from playwright.sync_api import expect

from tests.browser.actions import open_row_menu, row


def test_a_new_folder_name_with_a_slash_is_refused_with_the_reason(alice_page):
    page = alice_page
    page.expected_console_errors = [r"status of 400"]
    page.get_by_role("button", name="New folder").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("2024/reports")
    dialog.get_by_role("button", name="Create").click()

    expect(
        page.get_by_text("A name cannot contain “/”: it separates folders in a path.")
    ).to_be_visible()
    expect(page.get_by_label("New folder")).to_have_value("2024/reports")
    expect(page.get_by_text("No files yet.")).to_be_visible()


def test_renaming_to_dot_dot_is_refused_with_its_own_message(alice_page, alice, upload):
    page = alice_page
    page.expected_console_errors = [r"status of 400"]
    upload(alice, "notes.txt", b"text\n")
    page.reload()

    open_row_menu(page, "notes.txt")
    page.get_by_role("link", name="Rename notes.txt").click()
    dialog = page.get_by_role("dialog", name="Rename file")
    dialog.get_by_label("New name").fill("..")
    dialog.get_by_role("button", name="Rename").click()

    expect(
        page.get_by_text("“..” cannot be a name: it means “the folder above”.")
    ).to_be_visible()
    page.get_by_label("New name").fill("Makefile")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_text("Renamed to “Makefile”.")).to_be_visible()
    expect(row(page, "Makefile")).to_be_visible()
