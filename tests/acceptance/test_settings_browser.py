"""Settings in a real browser (headless Chromium at 375 px) against a running system: the owner changes a price in
the price list and a caller's next text is quoted the new price; a TECH has no way into any settings screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from ops.sandbox.client import SandboxClient
from ops.stack import LocalStack
from ops.tenants import DEMO_NUMBER
from tests.support.browser import phone_page, screenshot, sign_in
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
CALLER = "+14155550177"


def sent_to(stack: LocalStack, caller: str) -> list[str]:
    return [message["body"] for message in SandboxClient(stack.sandbox_url).messages(to=caller)]


def test_owner_changes_a_price_in_the_browser_and_the_caller_is_quoted_it(
    staff_stack: LocalStack, browser: Browser
) -> None:
    page = phone_page(browser)
    sign_in(page, staff_stack, "owner")
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Price list").first.click()
    page.get_by_role("link", name="Drain cleaning").click()
    price = page.get_by_label("Price (dollars)")
    expect(price).to_have_value("149")
    price.fill("abc")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("an amount in dollars")
    expect(page.get_by_label("Price (dollars)")).to_have_value("abc")  # what was typed stays
    screenshot(page, "settings-price-error")
    page.get_by_label("Price (dollars)").fill("219")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than a phone
    screenshot(page, "settings-price-saved")

    assert (
        SandboxClient(staff_stack.sandbox_url).sms(CALLER, DEMO_NUMBER, "How much is drain cleaning?").status_code
        == 200
    )
    wait_until(lambda: sent_to(staff_stack, CALLER), timeout=20, what="the AI's answer")
    answer = sent_to(staff_stack, CALLER)[-1]
    assert "$219" in answer, answer
    page.context.close()


def test_a_tech_cannot_open_team_or_any_other_settings(staff_stack: LocalStack, browser: Browser) -> None:
    page = phone_page(browser)
    sign_in(page, staff_stack, "tech")
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    for path in ("/app/settings/team", "/app/settings", "/app/settings/catalog", "/app/settings/billing"):
        response = page.goto(f"{staff_stack.ingress_url}{path}")
        assert response is not None
        assert response.status == 403, path
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    screenshot(page, "settings-tech-refused")
    page.context.close()
