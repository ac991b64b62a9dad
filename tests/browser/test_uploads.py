"""Uploading from the folder page: drag and drop, a folder, refusals, conflicts."""

from playwright.sync_api import expect

from tests import factories
from tests.browser.actions import (
    crumbs,
    drop_files,
    open_folder,
    pick_folder,
    record_uploads,
    recorded_uploads,
    row,
    throttle_uploads,
    upload_row,
    uploads_panel,
)
from tests.browser.conftest import screenshot


def test_dropping_three_files_shows_each_upload_complete(alice_page):
    page = alice_page
    record_uploads(page)
    page.reload()
    # Slow enough to watch: 420 kB at 150 kB/s is a few seconds.
    throttle_uploads(page, 150_000)
    files = {
        "small.txt": "s" * 30_000,
        "medium.txt": "m" * 90_000,
        "large.txt": "l" * 300_000,
    }

    drop_files(page, files)

    panel = uploads_panel(page)
    expect(panel).to_be_visible()
    expect(panel.get_by_role("listitem")).to_have_count(3)
    for name in files:
        expect(
            panel.get_by_role("progressbar", name=f"Upload progress of {name}")
        ).to_be_visible()
    # The smallest finishes while the largest is still on its way.
    expect(
        panel.get_by_role("progressbar", name="Upload progress of small.txt")
    ).to_have_js_property("value", 100)
    expect(upload_row(page, "small.txt")).to_contain_text("Uploaded")
    expect(upload_row(page, "large.txt")).to_contain_text("Uploading")
    screenshot(page, "uploading")

    # When all are done the page reloads itself and lists them.
    expect(page.get_by_text("Uploaded 3 files.")).to_be_visible()
    for name in files:
        expect(row(page, name)).to_be_visible()
    history = recorded_uploads(page)
    assert sorted(history) == sorted(files)
    for name, seen in history.items():
        assert seen["max"] == 100, name
        assert seen["values"][-1] == 100, (name, seen)
        assert any(0 < value < 100 for value in seen["values"]), (name, seen)
        assert seen["states"][-2:] == ["uploading", "done"], (name, seen)
        assert seen["status"] == "Uploaded", (name, seen)
    expect(row(page, "small.txt")).to_contain_text("30.0 kB")
    expect(row(page, "medium.txt")).to_contain_text("90.0 kB")
    expect(row(page, "large.txt")).to_contain_text("300 kB")


def test_uploading_a_folder_recreates_its_structure(alice_page, tmp_path):
    page = alice_page
    trip = tmp_path / "picked" / "Trip"
    (trip / "photos" / "day 1").mkdir(parents=True)
    (trip / "itinerary.txt").write_text("Monday: the coast\n")
    (trip / "photos" / "beach.png").write_bytes(factories.image_bytes("PNG"))
    (trip / "photos" / "day 1" / "harbour.jpg").write_bytes(
        factories.image_bytes("JPEG")
    )

    pick_folder(page, trip)

    expect(page.get_by_text("Uploaded 3 files.")).to_be_visible()
    open_folder(page, "Trip")
    expect(crumbs(page)).to_have_text(["My files", "Trip"])
    expect(row(page, "itinerary.txt")).to_be_visible()
    open_folder(page, "photos")
    expect(row(page, "beach.png")).to_be_visible()
    open_folder(page, "day 1")
    expect(crumbs(page)).to_have_text(["My files", "Trip", "photos", "day 1"])
    expect(row(page, "harbour.jpg")).to_be_visible()


def test_a_refused_upload_says_why_in_the_upload_panel(app, alice_page):
    page = alice_page
    page.expected_console_errors = [r"Failed to load resource: .* 415"]
    app.config["ALLOWED_EXTENSIONS"] = "txt"  # as an operator may set it

    drop_files(page, {"virus.exe": "MZ not really a program"})

    entry = upload_row(page, "virus.exe")
    expect(entry.get_by_role("alert")).to_have_text(
        "“virus.exe” was refused: this server accepts only .txt files. "
        "Its administrator can change that (VAULT_ALLOWED_EXTENSIONS)."
    )
    expect(entry).to_contain_text("Refused")
    expect(uploads_panel(page)).to_contain_text("0 of 1 uploaded · 1 failed")
    expect(page.get_by_text("No files yet.")).to_be_visible()


def test_keep_both_when_a_dropped_name_is_taken(alice_page, alice, upload):
    page = alice_page
    upload(alice, "report.txt", b"the first report\n")
    page.reload()

    drop_files(page, {"report.txt": "the second report\n"})

    dialog = page.get_by_role("dialog", name="Some names are already taken")
    expect(dialog).to_contain_text("“report.txt” is already in “My files”.")
    dialog.get_by_role("button", name="Keep both").click()

    expect(page.get_by_text("Uploaded 1 file.")).to_be_visible()
    expect(row(page, "report.txt")).to_contain_text("17 bytes")
    expect(row(page, "report (1).txt")).to_contain_text("18 bytes")
