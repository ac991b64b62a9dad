"""Images and the look of the main pages, on a desktop and on a phone."""

import io
import re

from PIL import Image, ImageDraw
from playwright.sync_api import expect

from tests import factories
from tests.browser.actions import crumbs, main_nav, row, wait_until_loaded
from tests.browser.conftest import PHONE, screenshot, sign_in


def picture(top, bottom, sun, image_format="JPEG", size=(960, 640)) -> bytes:
    """A small landscape: a sky fading from `top` to `bottom`, and a sun."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        mix = y / (height - 1)
        colour = tuple(
            round(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True)
        )
        draw.line([(0, y), (width, y)], fill=colour)
    draw.ellipse(
        [width * 0.6, height * 0.2, width * 0.75, height * 0.2 + width * 0.15], fill=sun
    )
    draw.rectangle(
        [0, height * 0.72, width, height], fill=tuple(c // 2 for c in bottom)
    )
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue()


def test_preview_an_image(alice_page, alice, upload):
    page = alice_page
    upload(alice, "teal.png", factories.image_bytes("PNG", size=(640, 400)))
    page.reload()

    thumbnail = row(page, "teal.png").locator("img.thumb")
    wait_until_loaded(thumbnail)
    # A thumbnail is made to fit 320 by 320 pixels.
    assert thumbnail.evaluate("image => image.naturalWidth") == 320
    row(page, "teal.png").get_by_role("link").click()

    expect(page.get_by_role("heading", name="teal.png")).to_be_visible()
    image = page.get_by_role("img", name="teal.png")
    wait_until_loaded(image)
    assert image.evaluate("image => [image.naturalWidth, image.naturalHeight]") == [
        640,
        400,
    ]
    expect(page.get_by_text("image/png")).to_be_visible()
    expect(page.get_by_role("link", name="Download")).to_have_attribute(
        "href", re.compile(r"^/files/\w+/download$")
    )


def library(alice, upload, make_folder):
    """A lived-in vault for the screenshots."""
    for name in ("Documents", "Photos", "Projects"):
        make_folder(alice, name)
    upload(
        alice, "beach.jpg", picture((110, 190, 240), (250, 220, 170), (255, 245, 200))
    )
    upload(alice, "sunset.jpg", picture((60, 40, 110), (250, 130, 80), (255, 210, 120)))
    upload(
        alice,
        "forest.png",
        picture((170, 220, 190), (40, 110, 70), (250, 250, 220), "PNG", (480, 320)),
    )
    upload(alice, "Budget 2024.csv", b"month,amount\nJanuary,1200\n" * 40)
    upload(alice, "Holiday plan.md", b"# Holiday plan\n\n- Pack\n- Go\n" * 20)
    upload(alice, "Report.pdf", factories.PDF)


def test_the_folder_page_on_a_desktop_and_a_phone(
    alice_page, alice, upload, make_folder, open_page
):
    library(alice, upload, make_folder)
    desktop = alice_page
    desktop.reload()
    expect(desktop.get_by_role("row")).to_have_count(10)
    wait_until_loaded(desktop.locator("img.thumb"))
    screenshot(desktop, "files-desktop")

    phone = open_page(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    sign_in(phone)
    expect(phone.get_by_role("row")).to_have_count(10)
    wait_until_loaded(phone.locator("img.thumb"))
    # Nothing sticks out sideways on a narrow screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "files-phone")

    row(desktop, "beach.jpg").get_by_role("link").click()
    wait_until_loaded(desktop.get_by_role("img", name="beach.jpg"))
    expect(crumbs(desktop)).to_have_text(["My files"])
    screenshot(desktop, "preview")


def test_the_account_link_keeps_its_name_on_a_phone(open_page, alice):
    phone = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(phone)
    # Only the avatar letter shows; a screen reader still needs the name.
    account = main_nav(phone).get_by_role("link", name="alice@example.com")
    expect(account).to_be_visible()
    account.click()
    expect(phone).to_have_url(re.compile(r"/account$"))
