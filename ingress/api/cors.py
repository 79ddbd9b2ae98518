"""CORS for the /v1 API: the browser origins in ``CLERK_AUTHORIZED_PARTIES`` (the front ends whose Clerk tokens the
API accepts) may call it cross-origin; every other origin, and every path outside /v1 (webhooks, health, the staff
app, which is same-origin), gets no CORS header at all.

Falcon's ``CORSMiddleware`` does the matching and the preflight. What this adds: the /v1 scope, a fixed list of
request headers instead of echoing whatever a preflight asks for, and ``Vary: Origin`` so a cache never serves one
origin's answer to another. No ``Access-Control-Allow-Credentials``: the API authenticates with the bearer token
alone, so a cross-origin request never needs the browser's cookies (and a cookie-bearing one gets nothing extra).
"""

from __future__ import annotations

from collections.abc import Iterable

import falcon

API_PREFIX = "/v1/"
ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Tenant-Id", "X-Request-Id", "X-Correlation-Id")
EXPOSE_HEADERS = ("X-Request-Id", "X-Correlation-Id", "Idempotent-Replayed", "Retry-After", "WWW-Authenticate")
PREFLIGHT_MAX_AGE_SECONDS = 600


def allowed_origins(parties: Iterable[str]) -> frozenset[str]:
    """An origin is scheme://host[:port], which is what a browser sends; a configured trailing slash is dropped."""
    return frozenset(party.strip().rstrip("/") for party in parties if party.strip().rstrip("/"))


class ApiCorsMiddleware(falcon.CORSMiddleware):
    def __init__(self, origins: Iterable[str]) -> None:
        # Always a set (never the base class' "*" wildcard): an empty list allows no origin.
        super().__init__(allow_origins=allowed_origins(origins), expose_headers=EXPOSE_HEADERS, allow_credentials=None)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        if not req.path.startswith(API_PREFIX):
            return
        resp.append_header("Vary", "Origin")
        super().process_response(req, resp, resource, req_succeeded)
        if resp.get_header("Access-Control-Allow-Methods") is not None:
            resp.set_header("Access-Control-Allow-Headers", ", ".join(ALLOW_HEADERS))
            resp.set_header("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE_SECONDS))
