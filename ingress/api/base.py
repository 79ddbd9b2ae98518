"""What every /v1 resource shares: authentication and role hooks, the tenant-scoped RLS transaction, JSON bodies,
and ``Idempotency-Key`` handling."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import falcon
from pydantic import BaseModel, ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from domain.events.sink import RootSink
from domain.identity import idempotency
from domain.identity import service as identity
from ingress.auth import AuthError, Claims, ClerkVerifier
from ingress.errors import ApiError
from ingress.json_body import parse_json

APP_ROLE = "nmc_app"
MAX_IDEMPOTENCY_KEY = 255
M = TypeVar("M", bound=BaseModel)
_ENTER_TENANT = text(f"SELECT set_config('role', '{APP_ROLE}', true), set_config('app.tenant_id', :tenant, true)")


@contextmanager
def tenant_transaction(sessions: sessionmaker[Session], tenant_id: uuid.UUID) -> Iterator[Session]:
    """One API unit of work under row-level security: the app role, scoped to one tenant, for this transaction only.

    ``SET LOCAL`` and ``set_config(..., true)`` end with the transaction, so a pooled connection never carries a
    tenant (or the role) into the next request.
    """
    with sessions() as session, session.begin():
        # One round trip: ``set_config('role', …, true)`` is what ``SET LOCAL ROLE`` does (the same GUC, the same
        # membership check), so both settings are made by one statement.
        session.execute(_ENTER_TENANT, {"tenant": str(tenant_id)})
        yield session


@dataclass(frozen=True)
class Caller:
    clerk_user_id: str
    user_id: uuid.UUID | None
    tenant_id: uuid.UUID
    role: str
    principal: identity.Principal
    profile: identity.Profile


class Authenticate:
    """``falcon.before`` hook: a valid Clerk JWT of a member of the chosen tenant, or 401/403.

    The tenant is ``X-Tenant-Id``, else the one the token's Clerk organization is linked to, else the user's only
    membership, else their default one (the first they joined), else 400: see ``identity.choose_tenant``."""

    def __init__(self, verifier: ClerkVerifier, sessions: sessionmaker[Session]) -> None:
        self.verifier = verifier
        self._sessions = sessions

    def signed_in(self, req: falcon.Request) -> Claims:
        """The verified claims of the request's Bearer token, or 401."""
        header = req.get_header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("a Bearer token is required")
        try:
            return self.verifier.verify(token.strip())
        except AuthError as error:
            raise _unauthorized(str(error)) from None

    def __call__(self, req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]) -> None:
        self.resolve(req, self.signed_in(req))

    def resolve(self, req: falcon.Request, claims: Claims) -> None:
        """The signed-in user as a member of the chosen tenant, in ``req.context.caller`` (or 400/403)."""
        requested = req.get_header("X-Tenant-Id")
        requested_id = as_uuid(requested) if requested else None
        if requested and requested_id is None:
            raise ApiError(falcon.HTTP_400, "malformed", "X-Tenant-Id must be a UUID")
        profile = identity.Profile(claims.email, claims.name)
        # Membership lookup runs as the owner: it is what decides which tenant this request may act for. Autocommit:
        # it is one read (and, when the token's profile changed, one single-row UPDATE that commits by itself), so
        # BEGIN and COMMIT would be two more round trips on every request for nothing.
        with self._sessions() as session:
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            principal = identity.principal_for(session, claims.subject, profile=profile, org_id=claims.org_id)
        try:
            tenant_id = identity.choose_tenant(principal, requested_id)
        except identity.NotAllowed as error:
            raise ApiError(falcon.HTTP_403, "not_a_member", str(error)) from None
        except identity.Conflict as error:
            raise ApiError(falcon.HTTP_400, "tenant_conflict", str(error)) from None
        except identity.TenantRequired as error:
            raise ApiError(falcon.HTTP_400, "tenant_required", str(error)) from None
        req.context.caller = Caller(
            claims.subject, principal.user_id, tenant_id, principal.roles[tenant_id], principal, profile
        )


def _unauthorized(message: str) -> ApiError:
    return ApiError(falcon.HTTP_401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="nmc"'})


def authenticate(req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]) -> None:
    """Class-level ``falcon.before`` hook: delegates to the resource's ``Authenticate`` collaborator."""
    resource.auth(req, resp, resource, params)


def authenticate_user(req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]) -> None:
    """``falcon.before`` hook for routes a signed-in user may call before belonging to any tenant (accepting an
    invitation): a valid token only, in ``req.context.claims``."""
    req.context.claims = resource.auth.signed_in(req)


def require_owner(req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]) -> None:
    """``falcon.before`` hook after ``Authenticate``: OWNER manages users, billing and compliance."""
    if caller(req).role != "OWNER":
        raise ApiError(falcon.HTTP_403, "forbidden", "this action needs the OWNER role")


def caller(req: falcon.Request) -> Caller:
    found: Caller = req.context.caller
    return found


def request_events(req: falcon.Request, session: Session) -> RootSink:
    """An API request has no cause event: what it raises starts one chain, under the request's correlation id (the
    caller's ``X-Correlation-Id``/``X-Request-Id`` when it sent a UUID, see ``CorrelationMiddleware``)."""
    return RootSink(session, correlation_id=getattr(req.context, "correlation_id", None))


def sending_number(session: Session, tenant_id: uuid.UUID) -> str:
    """The number a staff reply goes out from: the tenant's first; 409 ``no_number`` when it has none yet."""
    tenant = identity.get_tenant(session, tenant_id)
    if tenant is None or tenant.phone_number is None:
        raise ApiError(falcon.HTTP_409, "no_number", "this business has no phone number to text from yet")
    return tenant.phone_number


def read_body(req: falcon.Request, model: type[M]) -> M:
    return parse_model(req.bounded_stream.read(), model)


def as_uuid(value: str) -> uuid.UUID | None:
    """A UUID written in ASCII, or None (``uuid.UUID`` goes through ``int(…, 16)``, which takes fullwidth and other
    Unicode digits, so one id would have many spellings)."""
    if not value.isascii():
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def query_int(req: falcon.Request, name: str, *, min_value: int, max_value: int, default: int) -> int:
    """An integer query parameter in ASCII digits only: Falcon's ``get_param_as_int`` is ``int()``, which also
    takes " 3", "+3", "3_0" and Arabic-Indic or fullwidth digits."""
    raw = req.get_param(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(max_value))) or not (
        min_value <= int(raw) <= max_value
    ):
        raise ApiError(falcon.HTTP_400, "malformed", f"{name}: an integer from {min_value} to {max_value}")
    return int(raw)


def run_post(
    req: falcon.Request,
    resp: falcon.Response,
    sessions: sessionmaker[Session],
    action: Callable[[Session, bytes], tuple[int, dict[str, Any]]],
) -> None:
    """Run a POST in the tenant's RLS transaction, honouring ``Idempotency-Key``.

    The key row is inserted first in the same transaction as the action, so a concurrent retry with the same key
    waits on it and then sees the committed response; an action that fails rolls its key back with it.
    """
    tenant_id = caller(req).tenant_id
    body = req.bounded_stream.read()
    key = req.get_header("Idempotency-Key")
    if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY):
        raise ApiError(falcon.HTTP_400, "malformed", "Idempotency-Key must be 1-255 characters")
    fingerprint = hashlib.sha256(b"\0".join([req.method.encode(), req.path.encode(), _canonical(body)])).hexdigest()
    with tenant_transaction(sessions, tenant_id) as session:
        if key is not None:
            stored = idempotency.claim_key(session, tenant_id=tenant_id, key=key, fingerprint=fingerprint)
            if stored is not None:
                if stored.request_fingerprint != fingerprint:
                    raise ApiError(
                        falcon.HTTP_422, "idempotency_key_reused", "this Idempotency-Key was used with another request"
                    )
                resp.status = falcon.code_to_http_status(stored.response_status)
                resp.media = stored.response_body
                resp.set_header("Idempotent-Replayed", "true")
                return
        status, media = action(session, body)
        if key is not None:
            idempotency.record_response(session, tenant_id=tenant_id, key=key, status=status, body=media)
    resp.status = falcon.code_to_http_status(status)
    resp.media = media


def _canonical(body: bytes) -> bytes:
    """Same JSON, same fingerprint: key order and whitespace do not make it another request."""
    if not body.strip():
        return b""
    return json.dumps(parse_json(body), sort_keys=True, separators=(",", ":")).encode()


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (empty is ``{}``); anything else is malformed (400), not a validation failure."""
    document = parse_json(body or b"{}")
    if not isinstance(document, dict):
        raise ApiError(falcon.HTTP_400, "malformed", "the body must be a JSON object")
    return document


def parse_model(body: bytes, model: type[M]) -> M:
    """The body as ``model``: 400 for what is not JSON we accept (``json_object``), 422 naming the first bad field.

    Validated from the JSON text, not the parsed document, so strict models still take ISO strings for datetimes
    and UUIDs while refusing ``true`` or ``"30"`` for an integer."""
    raw = body or b"{}"
    json_object(raw)
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ApiError(falcon.HTTP_422, "validation_failed", f"{where}: {first['msg']}") from None
