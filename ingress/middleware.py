"""Cross-cutting request concerns: correlation id, body size limit, latency, the access log."""

from __future__ import annotations

import time
import uuid

import falcon
import structlog

from ingress.errors import ApiError
from ingress.metrics import REQUEST_LATENCY

CORRELATION_HEADERS = ("X-Correlation-Id", "X-Request-Id")
# Probed every few seconds by orchestrators and load balancers: their access lines are DEBUG, not INFO.
QUIET_PATHS = frozenset({"/healthz", "/readyz"})

access_log = structlog.stdlib.get_logger("nmc.access")


def _parse_uuid(value: str | None) -> uuid.UUID | None:
    if not value or len(value) > 64:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class CorrelationMiddleware:
    """Adopt the caller's correlation id when it is a UUID (else mint one), expose it, echo it back.

    It becomes the ``correlation_id`` of every event the request writes, so one id follows a webhook to the SMS.
    """

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        correlation_id = None
        for header in CORRELATION_HEADERS:
            correlation_id = _parse_uuid(req.get_header(header))
            if correlation_id is not None:
                break
        req.context.correlation_id = correlation_id or uuid.uuid4()
        req.context.started = time.perf_counter()
        # Every log line of this request carries the id (gthread workers reuse threads: clear what came before).
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=str(req.context.correlation_id))

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        correlation_id = getattr(req.context, "correlation_id", None)
        if correlation_id is not None:
            for header in CORRELATION_HEADERS:
                resp.set_header(header, str(correlation_id))
        started = getattr(req.context, "started", None)
        if started is not None:
            status = resp.status_code if isinstance(resp.status_code, int) else 0
            seconds = time.perf_counter() - started
            REQUEST_LATENCY.labels(req.uri_template or "unmatched", req.method, f"{status // 100}xx").observe(seconds)
            # The path only (a query string may carry a token); the logging pipeline masks any number in it.
            log = access_log.debug if req.path in QUIET_PATHS else access_log.info
            log("request", method=req.method, path=req.path, status=status, duration_ms=round(seconds * 1000, 1))
        # The request is over: what this thread logs next (or the next test in this process) is not about it.
        structlog.contextvars.clear_contextvars()


class BodyLimitMiddleware:
    """Refuse a declared body over the limit before anything reads it (chunked bodies are capped on read)."""

    def __init__(self, max_body_bytes: int) -> None:
        self._max = max_body_bytes

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        length = req.content_length
        if length is not None and length > self._max:
            raise too_large(self._max)


def too_large(limit: int) -> ApiError:
    return ApiError(falcon.HTTP_413, "payload_too_large", f"request body exceeds {limit} bytes")


def read_body(req: falcon.Request, limit: int) -> bytes:
    """The raw body, at most ``limit`` bytes (signatures are computed over exactly these bytes)."""
    body = req.bounded_stream.read(limit + 1)
    if len(body) > limit:
        raise too_large(limit)
    return body
