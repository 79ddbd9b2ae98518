"""/v1/service-items: the tenant's catalog (service items with Duration, Money, aliases and an active flag).

OWNER and TECH both operate the catalog. Deactivating keeps the item (appointments and reports still name it); only
active items are quoted, matched or offered for booking.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import falcon
from pydantic import Field, StringConstraints
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from domain.catalog import service as catalog
from ingress.api.base import (
    Authenticate,
    authenticate,
    caller,
    parse_model,
    query_int,
    request_events,
    run_post,
    tenant_transaction,
)
from ingress.api.resources import Strict
from ingress.errors import ApiError

MAX_ALIASES = 50
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
AliasText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# Duration is minutes, 1-480 in the MVP (docs/glossary.md); the database checks the same bound.
DurationMinutes = Annotated[int, Field(ge=1, le=480)]


class MoneyBody(Strict):
    """Money as docs/glossary.md has it: integer cents and an ISO 4217 code (MVP: USD)."""

    amount_cents: int = Field(ge=0, le=2**31 - 1)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class ServiceItemBody(Strict):
    name: Name
    duration_minutes: DurationMinutes
    price: MoneyBody
    aliases: list[AliasText] = Field(default_factory=list, max_length=MAX_ALIASES)
    description: str | None = Field(default=None, max_length=2000)
    active: bool = True


class ServiceItemPatch(Strict):
    """Only what is given changes; ``aliases`` replaces the whole list."""

    name: Name | None = None
    duration_minutes: DurationMinutes | None = None
    price: MoneyBody | None = None
    aliases: list[AliasText] | None = Field(default=None, max_length=MAX_ALIASES)
    description: str | None = Field(default=None, max_length=2000)
    active: bool | None = None


def money_json(amount_cents: int, currency: str) -> dict[str, Any]:
    return {"amount_cents": amount_cents, "currency": currency}


def item_json(item: catalog.ServiceItemRecord, aliases: list[str]) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "name": item.name,
        "description": item.description,
        "duration_minutes": item.duration_minutes,
        "price": money_json(item.price_cents, item.currency),
        "active": item.active,
        "aliases": aliases,
        "created_at": _iso(item.created_at),
        "updated_at": _iso(item.updated_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _aliases_of(session: Session, tenant_id: uuid.UUID, item_id: uuid.UUID) -> list[str]:
    return catalog.aliases_by_item(session, tenant_id=tenant_id).get(item_id, [])


def _not_found(error: catalog.ServiceItemNotFound) -> ApiError:
    return ApiError(falcon.HTTP_404, "not_found", str(error))


def _duplicate(error: IntegrityError) -> ApiError:
    """The unique constraints are the last word on duplicate names and aliases; say which one refused."""
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None) or ""
    if "alias" in constraint:
        return ApiError(falcon.HTTP_409, "duplicate_alias", "aliases: another service item already uses one of them")
    if "name" in constraint:
        return ApiError(falcon.HTTP_409, "duplicate_name", "name: another service item already has this name")
    return ApiError(falcon.HTTP_409, "conflict", "the change conflicts with another service item")


class CatalogResource:
    def __init__(self, auth: Authenticate, sessions: sessionmaker[Session]) -> None:
        self.auth = auth
        self.sessions = sessions


@falcon.before(authenticate)
class ServiceItemsResource(CatalogResource):
    """GET lists the catalog (``active=true|false`` filters); POST creates an item ⇒ ``ServiceItemChanged``."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        active = req.get_param_as_bool("active")
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            items = catalog.list_service_items(session, tenant_id=who.tenant_id, active_only=bool(active))
            aliases = catalog.aliases_by_item(session, tenant_id=who.tenant_id)
            resp.media = {
                "items": [
                    item_json(item, aliases.get(item.id, []))
                    for item in items
                    if active is None or item.active == active
                ]
            }

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            new = parse_model(body, ServiceItemBody)
            try:
                item = catalog.create_service_item(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    name=new.name,
                    duration_minutes=new.duration_minutes,
                    price_cents=new.price.amount_cents,
                    currency=new.price.currency,
                    aliases=new.aliases,
                    description=new.description,
                    active=new.active,
                )
            except IntegrityError as error:
                raise _duplicate(error) from None
            return 201, item_json(item, _aliases_of(session, who.tenant_id, item.id))

        run_post(req, resp, self.sessions, act)


@falcon.before(authenticate)
class ServiceItemMatchResource(CatalogResource):
    """GET /v1/service-items/match?text=…: what a caller's words would match (active items, with confidence)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        text = req.get_param("text") or ""
        if len(text) > 500:
            raise ApiError(falcon.HTTP_400, "malformed", "text: at most 500 characters")
        limit = query_int(req, "limit", min_value=1, max_value=10, default=3)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            found = catalog.match_services(session, tenant_id=who.tenant_id, text=text, limit=limit)
        resp.media = {
            "items": [
                {
                    "service_item_id": str(candidate.service_item_id),
                    "name": candidate.name,
                    "duration_minutes": candidate.duration_minutes,
                    "price": money_json(candidate.price_cents, candidate.currency),
                    "confidence": candidate.confidence,
                    "matched": candidate.matched,
                }
                for candidate in found
            ]
        }


@falcon.before(authenticate)
class ServiceItemResource(CatalogResource):
    """GET one item (active or not); PATCH changes it; DELETE deactivates it (the row stays, with active=false)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, service_item_id: uuid.UUID) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            try:
                item = catalog.get_service_item(
                    session, tenant_id=who.tenant_id, service_item_id=service_item_id, active_only=False
                )
            except catalog.ServiceItemNotFound as error:
                raise _not_found(error) from None
            resp.media = item_json(item, _aliases_of(session, who.tenant_id, item.id))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, service_item_id: uuid.UUID) -> None:
        who = caller(req)
        change = parse_model(req.bounded_stream.read(), ServiceItemPatch)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            try:
                item = catalog.update_service_item(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    service_item_id=service_item_id,
                    name=change.name,
                    duration_minutes=change.duration_minutes,
                    price_cents=change.price.amount_cents if change.price else None,
                    currency=change.price.currency if change.price else None,
                    active=change.active,
                    description=change.description,
                    aliases=change.aliases,
                )
            except catalog.ServiceItemNotFound as error:
                raise _not_found(error) from None
            except IntegrityError as error:
                raise _duplicate(error) from None
            resp.media = item_json(item, _aliases_of(session, who.tenant_id, item.id))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, service_item_id: uuid.UUID) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            try:
                item = catalog.deactivate_service_item(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    service_item_id=service_item_id,
                )
            except catalog.ServiceItemNotFound as error:
                raise _not_found(error) from None
            resp.media = item_json(item, _aliases_of(session, who.tenant_id, item.id))
