"""/v1 scheduling: resources and working hours, time off, availability, holds and appointments.

``schemas`` (request bodies), ``serializers`` (JSON out, the typed 409), ``params`` (query parameters), ``lookups``
(ids in the caller's tenant), ``resources`` (the Falcon resources) and ``routes`` (where they are mounted). Reads
go through ``domain.scheduling.queries``; writes through ``domain.scheduling.service``.
"""

from __future__ import annotations

from ingress.api.scheduling.routes import add_routes, register
from ingress.api.scheduling.schemas import (
    BookBody,
    CancelBody,
    ConfirmBody,
    HoldBody,
    ReleaseBody,
    RescheduleBody,
    ResourceBody,
    ResourceServicesBody,
    ShiftBody,
    TimeOffBody,
    WorkingHoursBody,
)

__all__ = [
    "BookBody",
    "CancelBody",
    "ConfirmBody",
    "HoldBody",
    "ReleaseBody",
    "RescheduleBody",
    "ResourceBody",
    "ResourceServicesBody",
    "ShiftBody",
    "TimeOffBody",
    "WorkingHoursBody",
    "add_routes",
    "register",
]
