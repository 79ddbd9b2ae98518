"""The browser tests' running system and Chromium, shared by every browser test module of the session."""

from tests.support.browser import browser, staff_stack

__all__ = ["browser", "staff_stack"]
