from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD


def test_first_run_creates_the_admin_then_signs_in(page):
    page.goto("/")
    assert page.url.endswith("/setup")
    screenshot(page, "setup")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create administrator").click()
    page.get_by_text("Your administrator account is ready").wait_for()
    assert page.get_by_text("No files yet.").is_visible()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    screenshot(page, "sign-in")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="admin@example.com").wait_for()
