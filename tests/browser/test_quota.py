"""A person near their quota: warned on every page, and refused before sending."""

from playwright.sync_api import expect

from tests import factories
from tests.browser.actions import drop_files, row
from tests.browser.conftest import screenshot, sign_in
from tests.helpers import set_quota


def test_a_user_near_their_quota_is_warned_and_refused_up_front(app, page, make_user):
    bob = make_user("bob@example.com")
    set_quota(app, bob, 100_000)
    with app.app_context():
        factories.store_file(bob, "thesis.txt", b"x" * 92_000)
    sent = []
    page.on(
        "request",
        lambda request: sent.append(request.url) if request.method == "POST" else None,
    )
    sign_in(page, "bob@example.com")

    usage = page.locator(".usage-bar")
    expect(usage).to_contain_text("Your storage is almost full")
    expect(usage).to_contain_text("92.0 kB used of 100 kB · 8.0 kB free")
    sent.clear()

    drop_files(page, {"scan.txt": "y" * 20_000})

    expect(page.get_by_role("alert").filter(has_text="This upload")).to_have_text(
        "This upload needs 20.0 kB but you have 8.0 kB free of 100 kB."
    )
    expect(page.get_by_role("region", name="Uploads")).to_be_hidden()
    assert sent == []
    screenshot(page, "quota-full")

    drop_files(page, {"note.txt": "z" * 5_000})

    expect(row(page, "note.txt")).to_be_visible()
    expect(usage).to_contain_text("97.0 kB used of 100 kB · 3.0 kB free")
