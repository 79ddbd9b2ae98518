"""Scheduling records as the API's JSON, and the typed 409 ``slot_unavailable`` with its alternatives."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import falcon

from domain.scheduling import service as scheduling
from domain.scheduling.availability import WEEKDAYS, Preference, Slot
from domain.scheduling.errors import SlotUnavailable
from domain.scheduling.queries import AppointmentRecord, HoldRecord, ResourceRecord, TimeOffRecord
from ingress.api.catalog import money_json
from ingress.errors import error_body

# --- the typed conflict --------------------------------------------------------------------------------------------


class SlotConflict(Exception):
    """Raised out of the transaction so it rolls back; rendered as the one error shape plus reason and alternatives."""

    def __init__(self, error: SlotUnavailable) -> None:
        super().__init__(str(error))
        self.reason = error.reason
        self.alternatives = [slot_json(slot) for slot in error.alternatives]


def render_slot_conflict(req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, Any]) -> None:
    assert isinstance(error, SlotConflict)
    body = error_body("slot_unavailable", f"that time cannot be booked: {error.reason}")
    body["error"]["reason"] = error.reason
    body["error"]["alternatives"] = error.alternatives
    resp.status = falcon.HTTP_409
    resp.media = body


# --- JSON ----------------------------------------------------------------------------------------------------------


def slot_json(slot: Slot) -> dict[str, Any]:
    return scheduling.as_dict(slot)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def appointment_json(row: AppointmentRecord) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "resource_id": str(row.resource_id),
        "service_item_id": str(row.service_item_id),
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "status": row.status,
        "customer_phone": row.customer_phone,
        "price": money_json(row.price_cents, row.currency),
        "hold_id": str(row.hold_id) if row.hold_id else None,
        "conversation_id": str(row.conversation_id) if row.conversation_id else None,
        "created_at": _iso(row.created_at),
        "cancelled_at": _iso(row.cancelled_at),
    }


def hold_json(row: HoldRecord) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "resource_id": str(row.resource_id),
        "service_item_id": str(row.service_item_id),
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "status": row.status,
        "expires_at": row.expires_at.isoformat(),
        "customer_phone": row.customer_phone,
        "conversation_id": str(row.conversation_id) if row.conversation_id else None,
    }


def time_off_json(row: TimeOffRecord) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "resource_id": str(row.resource_id) if row.resource_id else None,
        "first_day": row.first_day.isoformat(),
        "last_day": row.last_day.isoformat(),
        "reason": row.reason,
    }


def resource_json(row: ResourceRecord) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "active": row.active,
        "timezone": row.timezone,
        "buffer_minutes": row.buffer_minutes,
        "min_lead_minutes": row.min_lead_minutes,
        "slot_step_minutes": row.slot_step_minutes,
        "service_item_ids": [str(item_id) for item_id in row.service_item_ids],
        "working_hours": [
            {
                "weekday": shift.weekday,
                "weekday_name": WEEKDAYS[shift.weekday],
                "starts": shift.starts_local.isoformat("minutes"),
                "ends": shift.ends_local.isoformat("minutes"),
            }
            for shift in row.working_hours
        ],
        "created_at": _iso(row.created_at),
    }


def preference_json(preference: Preference | None) -> dict[str, Any] | None:
    if preference is None:
        return None
    return {
        "after": preference.earliest_local.isoformat("minutes") if preference.earliest_local else None,
        "before": preference.latest_local.isoformat("minutes") if preference.latest_local else None,
        "weekdays": [WEEKDAYS[day] for day in sorted(preference.weekdays)] if preference.weekdays else None,
        "dates": sorted(day.isoformat() for day in preference.dates) if preference.dates else None,
    }
