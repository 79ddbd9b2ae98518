"""Scheduling's public write and search surface, gathered from the files of each aggregate.

Every function takes ``tenant_id`` and ``now`` explicitly and raises its catalog event into the caller's sink, in
the caller's transaction; what crosses the module boundary is a frozen record (``records.py``), never an ORM row.
Double-booking is decided by Postgres: the GiST exclusion constraints on booked appointments and active holds are
the last word, and the cross-table rules are checked in SQL while a per-resource advisory lock is held
(``writes.py``). Each write runs in a SAVEPOINT, so a refused slot never poisons the caller's transaction.

- ``resources.py``: resources, the services they do, working hours, time off, calendars
- ``slots.py``: the schedules availability reads and the open slots
- ``holds.py``: place, extend, release, expire
- ``appointments.py``: confirm a hold, book directly, cancel, reschedule, a caller's upcoming ones
"""

from __future__ import annotations

from domain.scheduling.appointments import (
    book_slot,
    cancel_appointment,
    confirm_hold,
    reschedule_appointment,
    upcoming_appointments,
)
from domain.scheduling.holds import expire_holds, extend_hold, place_hold, release_hold
from domain.scheduling.records import Reschedule, SlotRequest, SlotSearch, slot_bounds
from domain.scheduling.resources import (
    add_calendar,
    add_time_off,
    create_resource,
    list_resources,
    remove_time_off,
    set_date_hours,
    set_resource_services,
    set_working_hours,
)
from domain.scheduling.slots import alternatives_for, as_dict, find_slots, load_schedules

__all__ = [
    "Reschedule",
    "SlotRequest",
    "SlotSearch",
    "add_calendar",
    "add_time_off",
    "alternatives_for",
    "as_dict",
    "book_slot",
    "cancel_appointment",
    "confirm_hold",
    "create_resource",
    "expire_holds",
    "extend_hold",
    "find_slots",
    "list_resources",
    "load_schedules",
    "place_hold",
    "release_hold",
    "remove_time_off",
    "reschedule_appointment",
    "set_date_hours",
    "set_resource_services",
    "set_working_hours",
    "slot_bounds",
    "upcoming_appointments",
]
