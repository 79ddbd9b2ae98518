"""Every screen of the staff app in a real browser at 375 px: no form control without a label, nothing wider than the
phone, and the keyboard alone reaches a screen and opens it (skip link first, visible focus)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from ops.stack import LocalStack
from tests.support.browser import phone_page, screenshot, sign_in

pytestmark = pytest.mark.slow

SCREENS = (
    "/app",
    "/app?view=attention",
    "/app/bookings",
    "/app/bookings?view=week",
    "/app/bookings/new",
    "/app/reports",
    "/app/settings",
    "/app/settings/catalog",
    "/app/settings/technicians",
    "/app/settings/messages",
    "/app/settings/reminders",
    "/app/settings/team",
    "/app/settings/billing",
)

# The visible form controls that no <label>, aria-label or aria-labelledby names.
UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))"""
# Buttons and links with no text a screen reader could say.
NAMELESS = """() => Array.from(document.querySelectorAll('a[href], button'))
  .filter(el => el.offsetParent !== null && !(el.innerText || '').trim() && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML.slice(0, 120))"""


def _check(page: Page, path: str) -> None:
    assert page.evaluate(UNLABELLED) == [], path
    assert page.evaluate(NAMELESS) == [], path
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    assert page.evaluate("document.documentElement.lang") == "en", path
    assert page.title(), path


def test_every_screen_labels_its_controls_and_fits_a_phone(staff_stack: LocalStack, browser: Browser) -> None:
    page = phone_page(browser)
    sign_in(page, staff_stack, "owner")
    for path in SCREENS:
        response = page.goto(f"{staff_stack.ingress_url}{path}")
        assert response is not None
        assert response.status == 200, path
        _check(page, path)
    page.goto(f"{staff_stack.ingress_url}/app/settings/catalog")
    page.get_by_role("link", name="Drain cleaning").click()
    _check(page, "a price-list item")
    page.goto(f"{staff_stack.ingress_url}/app/settings/technicians")
    page.get_by_role("link", name="Sarah (HVAC & plumbing)").click()
    _check(page, "a technician")
    screenshot(page, "settings-technician")


def test_the_keyboard_alone_skips_to_content_and_opens_a_screen(staff_stack: LocalStack, browser: Browser) -> None:
    page = phone_page(browser)
    sign_in(page, staff_stack, "owner")
    page.goto(f"{staff_stack.ingress_url}/app")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible
    for _ in range(10):  # Tab on through the navigation until Bookings has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Bookings":
            break
    expect(page.get_by_role("link", name="Bookings")).to_be_focused()
    page.keyboard.press("Enter")
    page.get_by_role("heading", level=1, name="Bookings").wait_for()
    page.get_by_role("link", name="New booking").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Service")).to_be_visible()
    page.get_by_label("Service").focus()
    page.keyboard.press("ArrowDown")  # a native select: chosen with the keyboard
    assert page.get_by_label("Service").input_value() != ""
    screenshot(page, "keyboard-new-booking")
