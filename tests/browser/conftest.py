"""Browser tests: a live vault on a free port, driven by Debian's Chromium."""

import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import PASSWORD

CHROMIUM = os.environ.get("VAULT_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMEOUT_MS = 10_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip(
            f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def live_server(app):
    """Serve the test app on a free port in a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll interval: shutting down waits for the next poll.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def open_page(browser, live_server):
    """Open a page in a new browser context (so: its own cookies).

    Any page error, or any console error, fails the test. A test that provokes
    an error on purpose (a refused upload makes Chromium log "Failed to load
    resource: ... 415") lists a regular expression for each expected line in
    `page.expected_console_errors`; every listed line must then be seen, and
    nothing else is allowed.
    """
    opened = []

    def open_(viewport=DESKTOP, **options):
        context = browser.new_context(
            base_url=live_server,
            viewport=viewport,
            accept_downloads=True,
            **options,
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.expected_console_errors = []
        errors = []
        console_errors = []
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        opened.append((context, page, errors, console_errors))
        return page

    yield open_
    problems = []
    for context, page, errors, console_errors in opened:
        context.close()
        problems += errors
        expected = [re.compile(pattern) for pattern in page.expected_console_errors]
        unseen = list(expected)
        for text in console_errors:
            matching = [pattern for pattern in expected if pattern.search(text)]
            if not matching:
                problems.append(f"console error: {text}")
            for pattern in matching:
                if pattern in unseen:
                    unseen.remove(pattern)
        problems += [f"expected console error not seen: {p.pattern}" for p in unseen]
    assert problems == [], f"errors in the browser: {problems}"


@pytest.fixture
def page(open_page):
    return open_page()


def sign_in(page, email="alice@example.com", password=PASSWORD):
    """Sign in through the login page, as a person would."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
    page.wait_for_load_state()  # the page's scripts have run


@pytest.fixture
def alice_page(page, alice):
    """A desktop page with alice (an administrator) signed in, on "My files"."""
    sign_in(page)
    return page


def screenshot(page, name: str) -> None:
    """Save a screenshot for the README (docs/screenshots/NAME.png).

    Only with VAULT_SCREENSHOTS=1 (`make screenshots`), so that test runs leave
    the working tree alone. Animations are finished first, so that nothing is
    caught half-way through a transition.
    """
    if not os.environ.get("VAULT_SCREENSHOTS"):
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SCREENSHOTS / f"{name}.png"),
        full_page=True,
        animations="disabled",
        caret="hide",
    )
