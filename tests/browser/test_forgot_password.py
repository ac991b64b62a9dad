"""'Forgot your password?' as a person uses it, the mail from a real SMTP server."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.mailserver import reset_link

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def app_config(app_config, smtp):
    return {**app_config, **smtp.settings()}


def test_a_forgotten_password_is_chosen_again_from_the_mail(page, bob, smtp, deliver):
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("bob@example.com")
    page.get_by_role("button", name="Send me a link").click()
    expect(
        page.get_by_text("If an account has the address bob@example.com")
    ).to_be_visible()
    expect(page).to_have_url("/login")

    assert deliver() == (1, 0)
    page.goto(reset_link(smtp.inbox.wait_for(1)[0]))
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_text("Your password was changed")).to_be_visible()
    sign_in(page, "bob@example.com", NEW_PASSWORD)
