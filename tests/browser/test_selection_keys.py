"""Keys on the folder page's checkboxes: Enter must neither delete nor download."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.actions import row
from tests.browser.conftest import sign_in
from vault.extensions import db
from vault.models import Node

# Enter on a checkbox makes the browser "click" the form's default button and
# fire `submit` at once, inside the key press; the request it leads to comes
# later. So the submissions are recorded where they start, as what they would
# do: the method and the address.
RECORD_SUBMISSIONS = """() => {
  window.submissions = [];
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    const method = button && button.hasAttribute("formmethod")
      ? button.formMethod : event.target.method;
    const action = button && button.hasAttribute("formaction")
      ? button.formAction : event.target.action;
    window.submissions.push(`${method} ${new URL(action).pathname}`);
  }, true);
}"""


def trashed_names(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(select(Node.name).where(Node.trashed_at.is_not(None)))
        )


@pytest.fixture
def two_files(alice_page, alice, upload):
    upload(alice, "a.txt", b"first\n")
    upload(alice, "b.txt", b"second\n")
    alice_page.reload()
    alice_page.wait_for_load_state()
    alice_page.evaluate(RECORD_SUBMISSIONS)
    downloads = []
    alice_page.on("download", lambda download: downloads.append(download))
    return alice_page, downloads


def test_enter_on_a_checkbox_with_nothing_selected_deletes_nothing(app, two_files):
    page, downloads = two_files
    box = page.get_by_role("checkbox", name="Select a.txt")
    box.focus()

    page.keyboard.press("Enter")

    # The one submission is the form's harmless default: method "dialog",
    # which goes nowhere outside a <dialog>.
    assert page.evaluate("window.submissions") == ["dialog /items/trash"]
    page.reload()
    expect(row(page, "a.txt")).to_be_visible()
    expect(row(page, "b.txt")).to_be_visible()
    assert trashed_names(app) == []
    assert downloads == []


def test_enter_on_a_checkbox_with_a_selection_downloads_nothing(app, two_files):
    page, downloads = two_files
    page.get_by_role("checkbox", name="Select a.txt").check()
    box = page.get_by_role("checkbox", name="Select b.txt")
    box.check()
    expect(page.get_by_role("toolbar", name="Selected items")).to_contain_text(
        "2 selected"
    )
    box.focus()

    page.keyboard.press("Enter")

    assert page.evaluate("window.submissions") == ["dialog /items/trash"]
    expect(box).to_be_checked()
    page.reload()
    expect(row(page, "a.txt")).to_be_visible()
    assert trashed_names(app) == []
    assert downloads == []


def test_enter_on_a_checkbox_without_javascript_submits_nowhere(
    app, open_page, alice, upload
):
    upload(alice, "a.txt", b"first\n")
    page = open_page(java_script_enabled=False)
    sign_in(page)
    requests = []
    page.on("request", lambda request: requests.append(request.method))
    box = page.get_by_role("checkbox", name="Select a.txt")
    box.check()
    box.focus()

    page.keyboard.press("Enter")

    # Follow a link: had the key sent a POST, it would be before this.
    page.get_by_role("link", name="Trash").click()
    expect(page.get_by_role("heading", name="Trash")).to_be_visible()
    assert "POST" not in requests
    assert trashed_names(app) == []
