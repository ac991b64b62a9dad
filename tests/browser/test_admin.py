"""The admin pages as a new administrator uses them, and as a non-admin meets them."""

import re
from datetime import timedelta

from playwright.sync_api import expect

from tests import factories
from tests.browser.actions import main_nav
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from vault.models import utcnow
from vault.services import accounts, admin
from vault.units import parse_size

DANA = "dana.reyes@example.com"
ERIK = "erik.lund@example.com"
FARAH = "farah.haddad@example.com"
GUS = "gus.moreno@example.com"
HANA = "hana.sato@example.com"
NEW_PASSWORD = "a brand new passphrase"


def text_file(size: int) -> bytes:
    line = b"Minutes of the weekly meeting, action items and decisions.\n"
    return (line * (size // len(line) + 1))[:size]


def pdf_file(size: int) -> bytes:
    return factories.PDF + b"%" * (size - len(factories.PDF))


def add_account(email, quota, files=(), trashed=(), signed_in_days_ago=None):
    """Make an account as an operator would, with files, maybe a sign-in."""
    account = admin.create_user(None, email, PASSWORD, quota_bytes=parse_size(quota))
    for name, content in files:
        factories.store_file(account, name, content)
    for name, content in trashed:
        node = factories.store_file(account, name, content)
        factories.trash_node(account, node.id)
    if signed_in_days_ago is not None:
        moment = utcnow() - timedelta(days=signed_in_days_ago, hours=3)
        accounts.authenticate(email, PASSWORD, "192.0.2.10", now=moment)
    return account


def add_people(app, alice):
    """Five accounts with different usage: one at 92% of a quota, one disabled."""
    with app.app_context():
        factories.store_file(alice, "budget-2031.pdf", pdf_file(1_800_000))
        add_account(
            DANA,
            "5 MB",
            files=[
                ("thesis-draft.pdf", pdf_file(3_200_000)),
                ("interview-notes.txt", text_file(1_400_000)),
            ],
            signed_in_days_ago=1,
        )
        erik = add_account(
            ERIK,
            "10 MB",
            files=[
                ("site-survey.pdf", pdf_file(4_500_000)),
                ("field-notes.txt", text_file(3_000_000)),
            ],
            trashed=[("old-survey.pdf", pdf_file(1_000_000))],
            signed_in_days_ago=6,
        )
        # The operator raised it from the command line: an event to filter for.
        admin.set_quota(None, erik, parse_size("20 MB"))
        add_account(FARAH, "10 MB", files=[("recipes.txt", text_file(1_200_000))])
        gus = add_account(
            GUS,
            "10 MB",
            files=[("cv.pdf", pdf_file(300_000))],
            signed_in_days_ago=40,
        )
        admin.set_disabled(None, gus, True)


def user_row(page, email):
    """The users table's row of the account `email`."""
    link = page.get_by_role("link", name=re.compile(f"^{re.escape(email)}"))
    return page.get_by_role("row").filter(has=link)


def listed_emails(page):
    return page.locator(".admin-users-table tbody .label")


def total(page, name):
    """The figure of the totals card called `name`."""
    card = page.locator(".admin-totals .stat").filter(
        has=page.get_by_text(name, exact=True)
    )
    return card.locator(".stat-figure")


def fact(page, name):
    """A figure of the user card (Quota, Files, ...)."""
    item = page.locator(".facts > div").filter(has=page.get_by_text(name, exact=True))
    return item.locator("dd")


def flash(page):
    return page.locator(".flash")


def open_user(page, email):
    main_nav(page).get_by_role("link", name="Admin").click()
    user_row(page, email).get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(email)


def test_an_admin_manages_users_and_reads_the_audit_log(app, alice, open_page):
    add_people(app, alice)
    # Copying the reset link goes through the clipboard, as for a person.
    page = open_page(permissions=["clipboard-read", "clipboard-write"])
    sign_in(page)

    main_nav(page).get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Users and storage")).to_be_visible()
    expect(main_nav(page).get_by_role("link", name="Admin")).to_have_attribute(
        "aria-current", "page"
    )
    expect(total(page, "Users")).to_have_text("5")
    expect(total(page, "Files")).to_have_text("7")
    expect(total(page, "In the trash")).to_have_text("1.0 MB")
    # Sorted by usage, the fullest first.
    expect(listed_emails(page)).to_have_text(
        [ERIK, DANA, "alice@example.com", FARAH, GUS]
    )
    dana = user_row(page, DANA)
    expect(dana).to_contain_text("4.6 MB of 5.0 MB · 92%")
    expect(dana.locator(".quota-usage")).to_have_class(re.compile(r"\bquota-warn\b"))
    expect(user_row(page, ERIK).locator(".quota-usage")).not_to_have_class(
        re.compile(r"\bquota-warn\b")
    )
    expect(user_row(page, GUS)).to_contain_text("Disabled")
    expect(user_row(page, FARAH)).to_contain_text("Never")
    screenshot(page, "admin")

    page.get_by_role("link", name="Email", exact=True).click()
    expect(
        page.get_by_role("columnheader", name=re.compile("^Email"))
    ).to_have_attribute("aria-sort", "ascending")
    expect(listed_emails(page)).to_have_text(
        ["alice@example.com", DANA, ERIK, FARAH, GUS]
    )

    page.get_by_label("Search users by email").fill("erik")
    page.get_by_role("button", name="Search").click()
    expect(listed_emails(page)).to_have_text([ERIK])
    page.get_by_role("link", name="Clear").click()
    expect(listed_emails(page)).to_have_count(5)

    # One user's page: a quota, disabling, a password reset.
    user_row(page, DANA).get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(DANA)
    expect(fact(page, "Quota")).to_have_text("5 MB")
    expect(fact(page, "Files")).to_have_text("2")
    screenshot(page, "admin-user")

    page.get_by_label("New quota").fill("50 MB")
    page.get_by_role("button", name="Set quota").click()
    expect(flash(page)).to_have_text(f"The quota of {DANA} is now 50 MB.")
    expect(fact(page, "Quota")).to_have_text("50 MB")
    usage = page.locator(".user-card .quota-usage")
    expect(usage).to_contain_text("4.6 MB of 50.0 MB · 9%")
    expect(usage).not_to_have_class(re.compile(r"\bquota-warn\b"))
    expect(page.get_by_label("New quota")).to_have_value("50 MB")

    page.once("dialog", lambda confirm: confirm.accept())
    page.get_by_role("button", name="Disable account").click()
    expect(flash(page)).to_contain_text(f"{DANA} is disabled")
    expect(page.locator(".user-card .badges")).to_contain_text("Disabled")

    visitor = open_page()
    visitor.goto("/login")
    visitor.get_by_label("Email").fill(DANA)
    visitor.get_by_label("Password").fill(PASSWORD)
    visitor.get_by_role("button", name="Sign in").click()
    expect(visitor.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(visitor.get_by_role("button", name="Sign out")).to_have_count(0)
    visitor.expected_console_errors = [r"401"]

    page.get_by_role("button", name="Enable account").click()
    expect(flash(page)).to_have_text(f"{DANA} is enabled again and can sign in.")
    expect(page.locator(".user-card .badges")).to_contain_text("Active")

    page.get_by_role("button", name="Make a reset link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Password reset link for {DANA}"
    )
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    link = page.evaluate("navigator.clipboard.readText()")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/reset/[A-Za-z0-9_-]{20,}", link)
    expect(page.get_by_label("Password reset link")).to_have_value(link)

    reset = open_page()
    reset.goto(link)
    expect(reset.get_by_role("heading", name="Choose a new password")).to_be_visible()
    reset.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    reset.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    reset.get_by_role("button", name="Set password").click()
    expect(flash(reset)).to_have_text(
        "Your password was changed. Sign in with the new one."
    )
    sign_in(reset, DANA, NEW_PASSWORD)
    expect(reset.get_by_role("link", name=re.compile(DANA))).to_be_visible()

    # A new account, from "Create user".
    page.get_by_role("link", name="Done").click()
    main_nav(page).get_by_role("link", name="Admin").click()
    page.get_by_role("link", name="Create user").click()
    page.get_by_label("Email").fill(HANA)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_label("Quota").fill("2 GB")
    page.get_by_role("button", name="Create user").click()
    expect(flash(page)).to_have_text(f"Account created: {HANA} can sign in now.")
    expect(page.get_by_role("heading", level=1)).to_have_text(HANA)
    expect(fact(page, "Quota")).to_have_text("2 GB")

    # Deleting an account takes its email, typed out.
    open_user(page, FARAH)
    confirmation = page.get_by_label(f"Type {FARAH} to confirm")
    confirmation.fill("farah@example.com")
    page.get_by_role("button", name="Delete user and files").click()
    expect(page.get_by_role("alert")).to_have_text(
        f"Type {FARAH} to confirm the deletion."
    )
    page.expected_console_errors = [r"400"]
    page.get_by_label(f"Type {FARAH} to confirm").fill(FARAH)
    page.get_by_role("button", name="Delete user and files").click()
    expect(flash(page)).to_have_text(f"{FARAH} was deleted, with all their files.")
    expect(page.get_by_role("heading", name="Users and storage")).to_be_visible()
    expect(user_row(page, FARAH)).to_have_count(0)
    expect(user_row(page, HANA)).to_be_visible()
    expect(total(page, "Users")).to_have_text("5")

    # The audit log, all of it, then one kind of event.
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    events = page.locator("table.audit-log tbody tr")
    expect(events.first).to_contain_text("User deleted")
    # A disabled account is refused, with its own reason in the log.
    expect(events.filter(has_text="Sign-in refused")).to_contain_text(DANA)
    screenshot(page, "audit")

    page.get_by_label("Event").select_option(label="Quota changed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=user\.quota_changed"))
    expect(page.get_by_label("Event")).to_have_value("user.quota_changed")
    expect(events).to_have_count(2)
    expect(events.nth(0).locator("td.who")).to_have_text("alice@example.com")
    expect(events.nth(0).locator("td.target")).to_contain_text(DANA)
    expect(events.nth(0).locator("td.changes")).to_have_text(
        re.compile(r"quota: 5\.0 MB\s*→.*50\.0 MB")
    )
    expect(events.nth(1).locator("td.who")).to_have_text("command line")
    expect(events.nth(1).locator("td.changes")).to_have_text(
        re.compile(r"quota: 10\.0 MB\s*→.*20\.0 MB")
    )


def test_a_non_admin_finds_no_admin_pages(page, alice, bob):
    sign_in(page, "bob@example.com")
    expect(main_nav(page).get_by_role("link", name="My files")).to_be_visible()
    expect(main_nav(page).get_by_role("link", name="Admin")).to_have_count(0)

    response = page.goto("/admin")

    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found.")
    expect(page.get_by_text("Users and storage")).to_have_count(0)
    expect(main_nav(page).get_by_role("link", name="Admin")).to_have_count(0)
    page.expected_console_errors = [r"404"]
