"""One error shape for every route: ``{"error": {"code": "...", "message": "..."}}``.

Providers and operators both read these; the ``code`` is stable (switch on it), the ``message`` is for people.
"""

from __future__ import annotations

import json
from typing import Any

import falcon
import psycopg
from sqlalchemy import exc as sa_exc

_CODES_BY_STATUS = {
    400: "malformed",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal",
    503: "unavailable",
}


class ApiError(falcon.HTTPError):
    """An HTTP error carrying its stable machine-readable code."""

    def __init__(self, status: str | int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, title=code, description=message, headers=headers)
        self.error_code = code


def malformed(message: str) -> ApiError:
    return ApiError(falcon.HTTP_400, "malformed", message)


def forbidden(message: str) -> ApiError:
    return ApiError(falcon.HTTP_403, "forbidden", message)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def serialize_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    """Falcon's error serializer, replaced so built-in errors (404, 405, 413, 500) share our shape."""
    code = getattr(error, "error_code", None) or _CODES_BY_STATUS.get(error.status_code, "error")
    message = error.description or (error.title or "").split(" ", 1)[-1] or "error"
    resp.content_type = falcon.MEDIA_JSON
    resp.text = json.dumps(error_body(code, message))
    resp.append_header("Vary", "Accept")


def database_unavailable(req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, Any]) -> None:
    # The provider retries on 5xx; the transaction rolled back, so nothing is half-written.
    raise ApiError(
        falcon.HTTP_503,
        "unavailable",
        "the database is unreachable; retry later",
        headers={"Retry-After": "5"},
    ) from error


def database_rejected_value(
    req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, Any]
) -> None:
    # A safety net: a value Postgres refuses (e.g. out of range) is the sender's problem, not a 500.
    raise malformed("a value in the request cannot be stored") from error


def register_error_handlers(app: falcon.App) -> None:
    app.set_error_serializer(serialize_error)
    # Falcon picks the handler by the exception's MRO, so the specific subclasses below win over DBAPIError.
    app.add_error_handler(sa_exc.DBAPIError, _dbapi_error)
    app.add_error_handler(sa_exc.OperationalError, database_unavailable)
    app.add_error_handler(sa_exc.InterfaceError, database_unavailable)
    app.add_error_handler(sa_exc.TimeoutError, database_unavailable)
    app.add_error_handler(sa_exc.DataError, database_rejected_value)
    # The webhook hot path talks psycopg directly (ingress.recording), so its errors arrive unwrapped.
    app.add_error_handler(psycopg.OperationalError, database_unavailable)
    app.add_error_handler(psycopg.DataError, database_rejected_value)


def _dbapi_error(req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, Any]) -> None:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        database_unavailable(req, resp, error, params)
    raise ApiError(falcon.HTTP_500, "internal", "internal error") from error
