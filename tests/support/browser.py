"""A running system with the demo tenant and a headless Chromium for the staff app's browser tests.

Chromium is Debian's (/usr/bin/chromium, installed by deploy/ensure-browser.sh); Playwright only brings its driver.
Screenshots go to .run/screenshots (not committed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from ops.stack import ROOT, LocalStack
from tests.support.demo_stack import demo_stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / ".run" / "screenshots"


@pytest.fixture(scope="session")
def staff_stack(template_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """sandbox, ingress, dispatcher and worker on a database of their own, the demo tenant and its staff seeded;
    one for the whole session, shared by every browser test module (each starts its own callers)."""
    with demo_stack(
        template_database,
        tmp_path_factory.mktemp("staff-stack"),
        prefix="nmc_staff",
        extra_env={"WORKER_PROCESSES": "1", "SANDBOX_CALLBACK_DELAY_MS": "5", "INGRESS_WORKERS": "2"},
        same_origin_clerk=True,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


# Contexts opened by the running test: closed after it even when it fails, so its pages' live streams do not hold
# the shared stack's stream slots while the next test signs in.
_OPEN_CONTEXTS: list[BrowserContext] = []


def phone_page(browser: Browser) -> Page:
    """A fresh browser context (no cookies) the size of a small phone: the app must be usable at 375 px."""
    context = browser.new_context(viewport={"width": 375, "height": 740})
    context.set_default_timeout(15_000)
    _OPEN_CONTEXTS.append(context)
    return context.new_page()


@pytest.fixture(autouse=True)
def _close_test_pages() -> Iterator[None]:
    yield
    while _OPEN_CONTEXTS:
        _OPEN_CONTEXTS.pop().close()


def sign_in(page: Page, stack: LocalStack, who: str) -> None:
    """Through the sandbox's sign-in page, as the demo tenant's "owner" or "tech"; back on the inbox."""
    page.goto(f"{stack.ingress_url}/app")
    page.get_by_role("button", name="owner" if who == "owner" else "tech").click()
    page.wait_for_url(f"{stack.ingress_url}/app*")
    page.get_by_role("heading", name="Inbox").wait_for()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
