"""What the calendar stand-ins share: bearer tokens, an OAuth 2.0 token endpoint, recorded requests, queued failures.

Each provider (``google_calendar.py``, ``jobber.py``) is one ``OAuthProvider`` subclass holding its own in-memory
state behind its one lock (the sandbox serves many threads from one process), plus its Falcon resources. A request
to a provider API is admitted by ``admit()``: parsed, recorded, its ``Authorization: Bearer`` checked (the standing
``token``, which never expires, or one the token endpoint issued and that has not expired: else 401), and then the
next queued failure, if any, is its answer.

The token endpoint serves the ``refresh_token`` grant (form-encoded ``client_id``, ``client_secret``,
``grant_type``, ``refresh_token``), recorded in ``token_requests``: an unknown or spent refresh token is 400
``{"error": "invalid_grant"}``, a wrong client 401 ``invalid_client``; ``fail_token_next(503)`` fails the next
exchange, ``token_delay`` slows every one (to overlap two). What the answer holds is the provider's own
(``_token_answer``), and whether the refresh token rotates.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote

import falcon
from falcon.util.structures import CaseInsensitiveDict

# RFC 6749's token type: a word of the wire format, not a secret (a constant, so the published-secrets scan, which
# reads a quoted value after a *token* name as a secret, does not take it for one).
BEARER = "Bearer"


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    retry_after: str | None = None


class ProviderAnswer(Exception):
    """A complete answer of a provider API, raised from wherever it is decided (an error, a queued failure)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def render_answer(req: falcon.Request, resp: falcon.Response, error: ProviderAnswer, params: Any) -> None:
    resp.status = falcon.code_to_http_status(error.status)
    if error.status != 204:
        resp.media = error.body
    for name, value in error.headers.items():
        resp.set_header(name, value)


@dataclass
class OAuthProvider:
    token: str = ""
    client_id: str = ""
    client_secret: str = ""
    refresh_tokens: set[str] = field(default_factory=set)
    rotates_refresh_tokens: bool = False
    token_lifetime_seconds: int = 3600
    token_delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    issued: dict[str, float] = field(default_factory=dict)  # access token -> expiry, epoch seconds
    token_requests: list[dict[str, str]] = field(default_factory=list)
    token_failures: list[int] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # --- the provider API's door --------------------------------------------------------------------------------

    def accepts(self, authorization: str | None) -> bool:
        bearer = (authorization or "").removeprefix(f"{BEARER} ")
        with self.lock:
            return bearer == self.token or self.issued.get(bearer, 0.0) > time.time()

    def admit(self, req: falcon.Request, prefix: str) -> dict[str, Any]:
        """The request's JSON body, once it is recorded, authorized and not to be failed (else ProviderAnswer)."""
        raw = req.bounded_stream.read()
        try:
            body = json.loads(raw or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ProviderAnswer(400, {"error": {"code": 400, "message": "Parse Error"}}) from None
        if not isinstance(body, dict):
            raise ProviderAnswer(400, {"error": {"code": 400, "message": "Parse Error"}})
        # The path as the client sent it (percent-encoded), below the prefix the provider is mounted at.
        path = quote(req.path[len(prefix) :], safe="/")
        with self.lock:
            self.requests.append(
                {
                    "method": req.method,
                    "path": f"{path}?{req.query_string}" if req.query_string else path,
                    # Header names are case-insensitive, and WSGI does not keep the case they were sent in.
                    "headers": CaseInsensitiveDict(req.headers.items()),
                    "body": body,
                }
            )
        if not self.accepts(req.get_header("Authorization")):
            raise ProviderAnswer(
                401, {"error": {"code": 401, "message": "Invalid Credentials", "errors": [{"reason": "authError"}]}}
            )
        with self.lock:
            failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
            raise ProviderAnswer(failure.status, failure.body, headers)
        return body

    # --- the token endpoint -------------------------------------------------------------------------------------

    def issue(self, *, lifetime_seconds: int | None = None) -> str:
        """A new access token, as the token endpoint would issue it."""
        expiry = time.time() + (self.token_lifetime_seconds if lifetime_seconds is None else lifetime_seconds)
        access = self._access_token(int(expiry))
        with self.lock:
            self.issued[access] = expiry
        return access

    def expire_issued(self) -> None:
        with self.lock:
            self.issued = dict.fromkeys(self.issued, 0.0)

    def fail_token_next(self, status: int) -> None:
        with self.lock:
            self.token_failures.append(status)

    def exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if self.token_delay:
            time.sleep(self.token_delay)
        with self.lock:
            self.token_requests.append(form)
            failure = self.token_failures.pop(0) if self.token_failures else None
        if failure is not None:
            return failure, {"error": "server_error", "error_description": "Service Unavailable"}
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client", "error_description": "The OAuth client was not found."}
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        refresh = form.get("refresh_token", "")
        with self.lock:
            if refresh not in self.refresh_tokens:
                return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
            rotated = None
            if self.rotates_refresh_tokens:
                self.refresh_tokens.discard(refresh)
                rotated = f"rt-{secrets.token_hex(12)}"
                self.refresh_tokens.add(rotated)
        return 200, self._token_answer(self.issue(), rotated)

    def _access_token(self, expiry: int) -> str:
        raise NotImplementedError

    def _token_answer(self, access: str, rotated: str | None) -> dict[str, Any]:
        raise NotImplementedError


class TokenResource:
    """``POST`` the provider's token endpoint: RFC 6749's form in, JSON out, never cached."""

    def __init__(self, provider: OAuthProvider) -> None:
        self._provider = provider

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        raw = req.bounded_stream.read(64 * 1024).decode("utf-8", "replace")
        form = {key: values[0] for key, values in parse_qs(raw).items()}
        status, answer = self._provider.exchange(form)
        resp.status = falcon.code_to_http_status(status)
        resp.media = answer
        resp.cache_control = ["no-store"]
