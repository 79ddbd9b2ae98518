"""The browser tests' running system and Chromium, shared by every browser test module of the session."""

from tests.support.browser import _close_test_pages, browser, staff_stack

__all__ = ["_close_test_pages", "browser", "staff_stack"]
