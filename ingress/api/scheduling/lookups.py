"""Ids named in a scheduling request, looked up in the caller's tenant: another tenant's is simply not found (404),
since foreign keys alone would not stop a write naming another tenant's resource."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import falcon
from sqlalchemy.orm import Session

from domain.catalog import service as catalog
from domain.conversations import operator
from domain.scheduling import queries
from ingress.api.scheduling.schemas import HORIZON, BookBody, HoldBody
from ingress.errors import ApiError


def own_resource(session: Session, tenant_id: uuid.UUID, resource_id: uuid.UUID) -> queries.ResourceRecord:
    row = queries.find_resource(session, tenant_id=tenant_id, resource_id=resource_id)
    if row is None:
        raise ApiError(falcon.HTTP_404, "not_found", f"resource {resource_id} not found")
    return row


def active_quote(session: Session, tenant_id: uuid.UUID, service_item_id: uuid.UUID) -> catalog.Candidate:
    try:
        return catalog.quote(session, tenant_id=tenant_id, service_item_id=service_item_id)
    except catalog.ServiceItemNotFound:
        raise ApiError(
            falcon.HTTP_404, "not_found", f"service item {service_item_id} not found (or not active)"
        ) from None


def check_service_items(session: Session, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]) -> None:
    for item_id in set(ids):
        try:
            catalog.get_service_item(session, tenant_id=tenant_id, service_item_id=item_id, active_only=False)
        except catalog.ServiceItemNotFound:
            raise ApiError(
                falcon.HTTP_422, "validation_failed", f"service_item_ids: no service item {item_id}"
            ) from None


def future_start(value: datetime, now: datetime, field: str) -> datetime:
    # Said before the horizon or the lead time: a start already gone is never a slot, however near.
    if value <= now:
        raise ApiError(falcon.HTTP_422, "validation_failed", f"{field}: must be in the future")
    return _within_horizon(value, now, field)


def own_conversation(session: Session, tenant_id: uuid.UUID, conversation_id: uuid.UUID | None) -> None:
    if conversation_id is not None:
        try:
            operator.hold_conversation(session, tenant_id=tenant_id, conversation_id=conversation_id)
        except operator.NotFound as error:
            raise ApiError(falcon.HTTP_404, "not_found", str(error)) from None


def _within_horizon(value: datetime, now: datetime, field: str) -> datetime:
    if not now - HORIZON <= value <= now + HORIZON:
        raise ApiError(falcon.HTTP_422, "validation_failed", f"{field}: must be within {HORIZON.days} days of now")
    return value.astimezone(UTC)


def requested_slot(
    session: Session, tenant_id: uuid.UUID, new: HoldBody | BookBody, now: datetime
) -> tuple[catalog.Candidate, datetime, datetime]:
    """What a hold or a booking asks for, checked the same way for both: the start within the horizon, the service
    item active (its catalog duration and price), the resource and the conversation (if any) the tenant's own."""
    starts_at = future_start(new.starts_at, now, "starts_at")
    item = active_quote(session, tenant_id, new.service_item_id)
    own_resource(session, tenant_id, new.resource_id)
    own_conversation(session, tenant_id, new.conversation_id)
    return item, starts_at, starts_at + timedelta(minutes=item.duration_minutes)


def own_hold(session: Session, tenant_id: uuid.UUID, hold_id: uuid.UUID) -> queries.HoldRecord:
    row = queries.find_hold(session, tenant_id=tenant_id, hold_id=hold_id)
    if row is None:
        raise ApiError(falcon.HTTP_404, "not_found", f"hold {hold_id} not found")
    return row
