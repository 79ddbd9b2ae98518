"""The staff app in a real browser (headless Chromium at phone width) against a running system: sign in through the
sandbox, a caller's text appears live, take over / reply / hand back, name the caller and find them by name, and
what a TECH may not open."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from ops.sandbox.client import SandboxClient
from ops.stack import LocalStack
from ops.tenants import DEMO_NUMBER, DEMO_OWNER_MOBILE
from tests.support.browser import phone_page, screenshot, sign_in
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
CALLER = "+14155550142"
WANTS_A_PERSON = "+14155550143"


def sent_to(stack: LocalStack, caller: str) -> list[str]:
    return [message["body"] for message in SandboxClient(stack.sandbox_url).messages(to=caller)]


def test_owner_sees_a_text_live_takes_over_replies_and_hands_back(staff_stack: LocalStack, browser: Browser) -> None:
    page = phone_page(browser)
    sign_in(page, staff_stack, "owner")
    # The earlier tests' pages may still hold the stream slots (freed within a heartbeat): a refused stream is tried
    # again after 10 s, so live updates come back rather than polling for good.
    expect(page.locator("body")).to_have_attribute("data-live-connected", "true", timeout=30_000)
    page.evaluate("window.__noReload = true")
    screenshot(page, "inbox-empty")

    sandbox = SandboxClient(staff_stack.sandbox_url)
    assert sandbox.sms(CALLER, DEMO_NUMBER, "Hi, is anyone there? My sink is blocked").status_code == 200
    row = page.locator(".conversation", has_text=CALLER)
    expect(row).to_be_visible(timeout=10_000)  # live: no reload
    assert page.evaluate("window.__noReload") is True
    screenshot(page, "inbox-live")

    row.get_by_role("link").click()
    page.get_by_role("heading", level=1, name=re.compile(re.escape(CALLER))).wait_for()
    expect(page.locator(".message.from-caller").first).to_contain_text("My sink is blocked")
    page.get_by_role("button", name="Take over").click()
    page.get_by_label(f"Reply to {CALLER}").fill("Hi, this is Olivia from Ace. I can help.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".message.from-staff")).to_contain_text("this is Olivia")
    wait_until(lambda: any("this is Olivia" in body for body in sent_to(staff_stack, CALLER)), timeout=15)
    screenshot(page, "thread-reply")

    page.get_by_role("button", name="Hand back to the AI").click()
    expect(page.get_by_role("button", name="Take over")).to_be_visible()
    before = len(sent_to(staff_stack, CALLER))
    assert sandbox.sms(CALLER, DEMO_NUMBER, "How much is drain cleaning?").status_code == 200
    wait_until(lambda: len(sent_to(staff_stack, CALLER)) > before, timeout=20)
    answer = sent_to(staff_stack, CALLER)[-1]
    assert "$" in answer, answer  # the AI quotes the price again
    expect(page.locator(".message.from-ai").last).to_contain_text("$", timeout=10_000)  # live in the thread too
    screenshot(page, "thread-released")

    # She names the caller, and finds them again by a piece of the name in the inbox's search box.
    page.get_by_label("Caller’s name").fill("Maria Lopez")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Maria Lopez")
    page.get_by_role("link", name="← Inbox").click()
    page.get_by_label("Search by number or name").fill("lopez")
    page.get_by_role("button", name="Search").click()
    found = page.locator(".conversation", has_text="Maria Lopez")
    expect(found).to_have_count(1)
    expect(found).to_contain_text(CALLER)
    screenshot(page, "inbox-found-by-name")
    page.context.close()


def test_a_tech_has_no_team_settings_link_and_the_server_refuses_it(staff_stack: LocalStack, browser: Browser) -> None:
    page = phone_page(browser)
    sign_in(page, staff_stack, "tech")
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    expect(page.get_by_role("link", name="Inbox")).to_be_visible()
    response = page.goto(f"{staff_stack.ingress_url}/app/settings/team")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    screenshot(page, "tech-refused")
    page.goto(f"{staff_stack.ingress_url}/app")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than a phone
    page.context.close()


def test_the_owner_takes_over_by_sms_from_the_alert_and_the_app_shows_it_as_hers(
    staff_stack: LocalStack, browser: Browser
) -> None:
    page = phone_page(browser)
    sign_in(page, staff_stack, "owner")
    page.goto(f"{staff_stack.ingress_url}/app?view=attention")
    # The earlier tests' pages may still hold the stream slots (freed within a heartbeat): a refused stream is tried
    # again after 10 s, so live updates come back rather than polling for good.
    expect(page.locator("body")).to_have_attribute("data-live-connected", "true", timeout=30_000)

    sandbox = SandboxClient(staff_stack.sandbox_url)
    assert sandbox.sms(WANTS_A_PERSON, DEMO_NUMBER, "can I talk to a real person please").status_code == 200
    wait_until(lambda: any(WANTS_A_PERSON in body for body in sent_to(staff_stack, DEMO_OWNER_MOBILE)), timeout=20)
    alert = [body for body in sent_to(staff_stack, DEMO_OWNER_MOBILE) if WANTS_A_PERSON in body][-1]
    code = alert[:3]
    row = page.locator(".conversation", has_text=WANTS_A_PERSON)
    expect(row).to_contain_text(f"Staff alerted ({code})", timeout=10_000)  # live, in Needs attention
    screenshot(page, "attention-alerted")

    assert sandbox.sms(DEMO_OWNER_MOBILE, DEMO_NUMBER, f"{code} TAKE").status_code == 200
    assert sandbox.sms(DEMO_OWNER_MOBILE, DEMO_NUMBER, f"{code} On my way in 20 minutes").status_code == 200
    wait_until(lambda: any("On my way" in body for body in sent_to(staff_stack, WANTS_A_PERSON)), timeout=20)
    row.get_by_role("link").click()
    page.get_by_role("heading", level=1, name=re.compile(re.escape(WANTS_A_PERSON))).wait_for()
    expect(page.locator(".message.from-staff")).to_contain_text("On my way in 20 minutes")
    # Taken over from her phone, it is hers here too: she can reply, nobody's lease is in her way.
    expect(page.get_by_label(f"Reply to {WANTS_A_PERSON}")).to_be_visible()
    expect(page.get_by_role("button", name="Take over")).to_have_count(0)
    screenshot(page, "thread-taken-by-sms")
    page.context.close()
