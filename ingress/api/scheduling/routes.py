"""Where the scheduling resources are mounted. Path ids use the ``uuid`` converter (a malformed one is the
router's 404), and each action on a hold or appointment is its own route and ``suffix`` responder."""

from __future__ import annotations

import falcon
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings
from ingress.api.base import Authenticate
from ingress.api.scheduling import resources as r
from ingress.api.scheduling.serializers import SlotConflict, render_slot_conflict


def add_routes(app: falcon.App, auth: Authenticate, sessions: sessionmaker[Session], settings: Settings) -> None:
    app.add_error_handler(SlotConflict, render_slot_conflict)
    app.add_route("/v1/resources", r.ResourcesResource(auth, sessions, settings))
    app.add_route("/v1/resources/{resource_id:uuid}", r.ResourceResource(auth, sessions, settings))
    app.add_route("/v1/resources/{resource_id:uuid}/working-hours", r.WorkingHoursResource(auth, sessions, settings))
    app.add_route("/v1/resources/{resource_id:uuid}/services", r.ResourceServicesResource(auth, sessions, settings))
    app.add_route("/v1/time-off", r.TimeOffResource(auth, sessions, settings))
    app.add_route("/v1/availability", r.AvailabilityResource(auth, sessions, settings))
    app.add_route("/v1/holds", r.HoldsResource(auth, sessions, settings))
    holds = r.HoldActionResource(auth, sessions, settings)
    app.add_route("/v1/holds/{hold_id:uuid}/confirm", holds, suffix="confirm")
    app.add_route("/v1/holds/{hold_id:uuid}/release", holds, suffix="release")
    app.add_route("/v1/appointments", r.AppointmentsResource(auth, sessions, settings))
    app.add_route("/v1/appointments/{appointment_id:uuid}", r.AppointmentResource(auth, sessions, settings))
    appointments = r.AppointmentActionResource(auth, sessions, settings)
    app.add_route("/v1/appointments/{appointment_id:uuid}/cancel", appointments, suffix="cancel")
    app.add_route("/v1/appointments/{appointment_id:uuid}/reschedule", appointments, suffix="reschedule")


# The name the API's registry has always called.
register = add_routes
