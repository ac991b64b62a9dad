"""Sharing a file, as its owner and as a visitor in a private window."""

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.actions import open_row_menu
from tests.browser.conftest import screenshot


def test_share_download_count_and_revoke(alice_page, alice, upload, open_page):
    page = alice_page
    upload(alice, "report.txt", b"quarterly figures\n")
    page.reload()

    open_row_menu(page, "report.txt")
    page.get_by_role("link", name="Share report.txt").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Maximum downloads").fill("2")
    dialog.get_by_label("Note for visitors").fill("Figures for the board")
    screenshot(page, "share-dialog")
    dialog.get_by_role("button", name="Create link").click()
    link = dialog.locator("#share-url")
    expect(link).to_have_value(re.compile(r"/s/[A-Za-z0-9_-]{43}$"))
    url = link.input_value()

    # A private window: no cookies of alice's.
    visitor = open_page()
    visitor.goto(url)
    expect(visitor.get_by_role("heading", name="report.txt")).to_be_visible()
    expect(visitor.get_by_text("Figures for the board")).to_be_visible()
    screenshot(visitor, "share-visitor")
    with visitor.expect_download() as download:
        visitor.get_by_role("link", name=re.compile("Download")).first.click()
    assert Path(download.value.path()).read_bytes() == b"quarterly figures\n"

    page.goto("/shares/")
    expect(page.locator("td.used")).to_have_text("1 of 2 downloads")
    screenshot(page, "my-shares")
    page.get_by_role("link", name="Manage the link to report.txt").click()
    page.once("dialog", lambda confirm: confirm.accept())
    page.get_by_role("button", name="Revoke link").click()
    expect(page.get_by_text("You revoked this link")).to_be_visible()

    response = visitor.goto(url)
    assert response.status == 410
    expect(visitor.get_by_role("heading")).not_to_contain_text("report.txt")
    assert "report.txt" not in visitor.content()
    screenshot(visitor, "share-gone")
    visitor.expected_console_errors = [r"410"]
