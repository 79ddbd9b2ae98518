"""Bookings in a real browser (headless Chromium at phone width) against a running system: book from the real open
slots of the demo tenant, see it on the calendar, cancel it from the calendar."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from ops.stack import LocalStack
from ops.tenants import DEMO_TIMEZONE
from tests.support.browser import phone_page, screenshot, sign_in

pytestmark = pytest.mark.slow
CUSTOMER = "(415) 555-0178"


def _next_weekday() -> str:
    """A working day (the demo technicians work Monday to Friday) at least two days ahead: never too soon."""
    day = datetime.now(ZoneInfo(DEMO_TIMEZONE)).date() + timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day.isoformat()


def test_book_then_cancel_from_the_calendar(staff_stack: LocalStack, browser: Browser) -> None:
    page = phone_page(browser)
    sign_in(page, staff_stack, "owner")
    page.get_by_role("link", name="Bookings").click()
    page.get_by_role("heading", level=1, name=re.compile("Bookings")).wait_for()
    page.get_by_role("link", name="New booking").click()

    page.get_by_label("Service").select_option(index=1)
    page.get_by_label("Day").fill(_next_weekday())
    page.get_by_role("button", name="Find open times").click()
    first = page.locator("fieldset.slots label.slot").first
    expect(first).to_be_visible()
    first.click()
    page.get_by_label("Customer’s phone number").fill(CUSTOMER)
    screenshot(page, "bookings-new")
    page.get_by_role("button", name="Book", exact=True).click()

    expect(page.get_by_role("status").filter(has_text="Booked.")).to_be_visible()
    entry = page.locator(".entry-appointment")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("+14155550178")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than a phone
    screenshot(page, "bookings-day")

    entry.get_by_role("button", name=re.compile("^Cancel")).click()
    expect(page.get_by_role("status").filter(has_text="Cancelled.")).to_be_visible()
    expect(page.locator(".entry-appointment")).to_have_count(0)
    screenshot(page, "bookings-cancelled")
    page.context.close()


def test_the_owner_opens_reports_at_phone_width(staff_stack: LocalStack, browser: Browser) -> None:
    page = phone_page(browser)
    sign_in(page, staff_stack, "owner")
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("heading", level=1, name="Reports").wait_for()
    expect(page.get_by_role("img", name="Missed calls, conversations and bookings per day")).to_be_visible()
    expect(page.get_by_role("table")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "reports")
    page.context.close()
