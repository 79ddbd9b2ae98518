"""The sandbox's calendar stand-ins (``ops/sandbox/google_calendar.py``, ``ops/sandbox/jobber.py``), each served on
its own local port at the root, as the providers serve them, for the real clients to talk to.

The wire formats, the token endpoints and the fault injection (``fail_next``, ``throttle_next``,
``fail_token_next``, ``token_delay``) are the sandbox's own; here each server only has test credentials, its own
address (``url``, ``token_url``) and, for Google, no calendar but those given busy time (so an unknown one is
``notFound``) and, for Jobber, pages of two visits (so paging is exercised).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import falcon

from ops.sandbox.google_calendar import GoogleCalendar, mount_google_calendar
from ops.sandbox.jobber import Jobber, mount_jobber
from tests.support.sandbox_world import ServedApp

TEST_ACCESS_TOKEN = "test-access-token"
TEST_REFRESH_TOKEN = "test-refresh-token"
TEST_CLIENT_ID = "test-oauth-client"
TEST_CLIENT_SECRET = "test-oauth-client-secret"


@dataclass
class GoogleCalendarServer(GoogleCalendar):
    token: str = TEST_ACCESS_TOKEN
    client_id: str = TEST_CLIENT_ID
    client_secret: str = TEST_CLIENT_SECRET
    refresh_tokens: set[str] = field(default_factory=lambda: {TEST_REFRESH_TOKEN})
    every_calendar_exists: bool = False
    url: str = ""

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"


@dataclass
class JobberServer(Jobber):
    token: str = TEST_ACCESS_TOKEN
    client_id: str = TEST_CLIENT_ID
    client_secret: str = TEST_CLIENT_SECRET
    refresh_tokens: set[str] = field(default_factory=lambda: {TEST_REFRESH_TOKEN})
    page_size: int = 2
    url: str = ""

    @property
    def token_url(self) -> str:
        return f"{self.url}/api/oauth/token"


@contextmanager
def serve(state: GoogleCalendarServer | JobberServer) -> Iterator[GoogleCalendarServer | JobberServer]:
    app = falcon.App()
    if isinstance(state, GoogleCalendarServer):
        mount_google_calendar(app, state, "")
    else:
        mount_jobber(app, state, "")
    served = ServedApp(app)
    state.url = served.base_url
    try:
        yield state
    finally:
        served.stop()
