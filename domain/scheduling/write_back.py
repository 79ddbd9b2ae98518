"""Bookings written back: an appointment's current state made true on its resource's linked Google/Jobber calendars.

Every handler (booked, rescheduled, cancelled) runs the same reconcile from what committed, never from the event's
payload, so a redelivered, retried or out-of-order event writes nothing new: the appointment is read, each linked
calendar of its resource gets an event at its current times (inserted once, patched when it moved), and an event on
a calendar it no longer belongs to (cancelled, or moved to another technician) is deleted. ``sched_write_backs``
remembers what each calendar holds.

Idempotent by a stable id: a Google event's id is derived from the appointment id (base32hex, as Google allows for
client-supplied ids), so an insert repeated after a crash answers 409 and is adopted; a Jobber visit's id is
Jobber's, so the create is recorded as attempted (committed on its own) before the call, and a retry looks for the
visit at exactly that slot before creating another.

Before the first insert the slot is checked against the calendar itself: busy there means the slot was taken
externally. Our booking stands (the caller was told the truth about OUR calendar and is told nothing more); an
``AppointmentWriteBackFailed`` (``conflict``) opens an operator task so a person sorts it out. An access token that
expires within a minute is renewed with the stored refresh token first (``token_refresh``); a 401 renews it once and
the calendar's calls are made once more with the new one. Credentials the provider refuses (or a refresh the token
endpoint refuses) are marked invalid with the same event (``credentials_refused``), never a crash; a provider or
token endpoint that is down or rate limiting raises ``CalendarUnavailable``, which the delivery retries with backoff.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from domain.events.catalog import AppointmentWriteBackFailed, AppointmentWrittenBack
from domain.events.sink import EventSink
from domain.scheduling.credentials import (
    CredentialBox,
    WriteTarget,
    calendar_target,
    mark_refused,
    write_targets,
)
from domain.scheduling.errors import SchedulingError
from domain.scheduling.models import Appointment, WriteBack
from domain.scheduling.records import AppointmentRecord, appointment_record
from domain.scheduling.token_refresh import RefreshRefused, TokenRefresher, expiring, renew_target


class WriteRefused(SchedulingError):
    """The provider refused our credentials for this calendar (401, or 403 that is not a rate limit)."""


class AccessTokenRejected(WriteRefused):
    """A 401: the access token is not (or no longer) accepted, which a refresh may cure."""


def google_event_id(appointment_id: uuid.UUID) -> str:
    """The appointment's Google event id: ``nmc`` and the UUID's hex digits, all within base32hex (a-v, 0-9)."""
    return f"nmc{appointment_id.hex}"


@dataclass(frozen=True)
class EventDraft:
    """What we write: the stable id (Google), a title, the slot, a note naming the appointment."""

    appointment_id: uuid.UUID
    event_id: str
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class ExternalEvent:
    external_id: str
    starts_at: datetime
    ends_at: datetime
    cancelled: bool = False


class CalendarWriter(Protocol):
    """The providers' write APIs (``workers/adapters/calendar_writes.py``); each raises ``WriteRefused`` or
    ``CalendarUnavailable``."""

    def find(self, target: WriteTarget, draft: EventDraft, *, external_id: str | None) -> ExternalEvent | None:
        """Our event on that calendar, if it is there: by id (Google, or a known Jobber visit), else (Jobber after
        an unanswered create) a visit at exactly this slot."""
        ...

    def slot_taken(self, target: WriteTarget, draft: EventDraft, *, ignore: str | None) -> bool:
        """Whether something other than our own event (``ignore``) is busy on that calendar during the slot."""
        ...

    def create(self, target: WriteTarget, draft: EventDraft) -> str:
        """Create the event; its external id (Google: ours, also when it already existed)."""
        ...

    def move(self, target: WriteTarget, external_id: str, draft: EventDraft) -> None: ...

    def remove(self, target: WriteTarget, external_id: str) -> None:
        """Delete the event; one already gone is no error."""
        ...


def _lock_appointment(session: Session, appointment_id: uuid.UUID) -> None:
    # Write-backs of one appointment run one at a time (a booking and its reschedule handled at once), without
    # holding its row, which staff may be rescheduling meanwhile.
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended('nmc.write_back:' || :id, 0))"), {"id": str(appointment_id)}
    )


def write_back_appointment(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    appointment_id: uuid.UUID,
    writer: CalendarWriter,
    box: CredentialBox,
    refresher: TokenRefresher,
    events: EventSink,
    intents: sessionmaker[Session],
    title: str,
    clock: Callable[[], datetime],
) -> int:
    """Make every linked calendar agree with the appointment as it is now; how many calendars were written."""
    _lock_appointment(session, appointment_id)
    row = session.scalars(
        select(Appointment).where(Appointment.id == appointment_id, Appointment.tenant_id == tenant_id)
    ).one_or_none()
    if row is None:
        return 0  # gone (retention): nothing to say to any calendar
    appointment = appointment_record(row)
    draft = EventDraft(
        appointment_id=appointment.id,
        event_id=google_event_id(appointment.id),
        title=title,
        description=f"Booked by text with {appointment.customer_phone} (NeverMissCall appointment {appointment.id}).",
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
    )
    return _Reconcile(
        session, tenant_id, appointment, draft, writer, events, intents, _Tokens(intents, box, refresher, clock)
    ).run(box)


@dataclass(frozen=True)
class _Tokens:
    sessions: sessionmaker[Session]
    box: CredentialBox
    refresher: TokenRefresher
    clock: Callable[[], datetime]

    def renew(self, target: WriteTarget, *, rejected: bool) -> WriteTarget | None:
        return renew_target(
            self.sessions, target, box=self.box, refresher=self.refresher, now=self.clock(), rejected=rejected
        )


class _Reconcile:
    def __init__(
        self,
        session: Session,
        tenant_id: uuid.UUID,
        appointment: AppointmentRecord,
        draft: EventDraft,
        writer: CalendarWriter,
        events: EventSink,
        intents: sessionmaker[Session],
        tokens: _Tokens,
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.appointment = appointment
        self.draft = draft
        self.writer = writer
        self.events = events
        self.intents = intents
        self.tokens = tokens

    def run(self, box: CredentialBox) -> int:
        held = {wb.calendar_id: wb for wb in self._write_backs()}
        booked = self.appointment.status == "booked"
        targets = (
            write_targets(self.session, tenant_id=self.tenant_id, resource_id=self.appointment.resource_id, box=box)
            if booked
            else []
        )
        wanted = {target.calendar_id for target in targets}
        written = 0
        for calendar_id, wb in held.items():
            if calendar_id in wanted or wb.state not in ("present", "pending") or wb.external_id is None:
                continue
            leaving = calendar_target(self.session, calendar_id=calendar_id, box=box)
            if leaving is not None:  # else unlinked since: nothing we may do there
                written += self._guarded(leaving, functools.partial(self._remove, wb=wb))
        for target in targets:
            written += self._guarded(target, functools.partial(self._put, wb=held.get(target.calendar_id)))
        return written

    def _write_backs(self) -> list[WriteBack]:
        query = select(WriteBack).where(WriteBack.appointment_id == self.appointment.id)
        return list(self.session.scalars(query.execution_options(populate_existing=True)))

    def _guarded(self, target: WriteTarget, call: Callable[[WriteTarget], int]) -> int:
        """One calendar's calls, with a token that works: renewed first when it is about to expire; after a 401 renewed
        once and the calls made once more (each step is idempotent: the event is found, not made twice)."""
        try:
            current: WriteTarget | None = target
            if expiring(target, self.tokens.clock()):
                current = self.tokens.renew(target, rejected=False)
            if current is None:
                return 0  # refused meanwhile (another delivery opened the task)
            try:
                return call(current)
            except AccessTokenRejected:
                if not current.refreshable:
                    raise
                current = self.tokens.renew(current, rejected=True)
                if current is None:
                    return 0
            return call(current)
        except (WriteRefused, RefreshRefused) as error:
            problem = str(error) if isinstance(error, WriteRefused) else f"{target.provider} token refresh: {error}"
            mark_refused(self.session, calendar_id=target.calendar_id, problem=problem)
            self._record(target, state="refused", error=problem)
            self._failed(target, "credentials_refused", problem)
            return 0

    def _remove(self, target: WriteTarget, *, wb: WriteBack) -> int:
        assert wb.external_id is not None
        self.writer.remove(target, wb.external_id)
        self._record(target, state="deleted")
        self._written(target, "deleted", wb.external_id)
        return 1

    def _put(self, target: WriteTarget, *, wb: WriteBack | None) -> int:
        draft = self.draft
        if wb is not None and wb.state == "present" and (wb.starts_at, wb.ends_at) == (draft.starts_at, draft.ends_at):
            return 0  # already says this: a redelivery, or a reschedule handled after the state it moved to
        if (
            wb is not None
            and wb.state in ("conflict", "refused")
            and (wb.starts_at, wb.ends_at)
            == (
                draft.starts_at,
                draft.ends_at,
            )
        ):
            return 0  # a person has it (the task is open); a new time is tried again
        known = draft.event_id if target.provider == "google" else (None if wb is None else wb.external_id)
        found = None
        if known is not None or (wb is not None and wb.create_attempted_at is not None):
            found = self.writer.find(target, draft, external_id=known)
        if (
            found is not None
            and not found.cancelled
            and (found.starts_at, found.ends_at)
            == (
                draft.starts_at,
                draft.ends_at,
            )
        ):
            self._record(target, state="present", external_id=found.external_id)  # written before we could say so
            return 0
        if self.writer.slot_taken(target, draft, ignore=None if found is None else found.external_id):
            detail = f"{target.provider} calendar {target.external_ref} is busy then"
            self._record(target, state="conflict", error=detail)
            self._failed(target, "conflict", detail)
            return 0
        if found is not None:  # moved, or deleted on their side while still booked here: at the current time
            self.writer.move(target, found.external_id, draft)
            self._record(target, state="present", external_id=found.external_id)
            self._written(target, "patched", found.external_id)
            return 1
        if target.provider == "jobber":
            self._attempt_create(target)
        external_id = self.writer.create(target, draft)
        self._record(target, state="present", external_id=external_id)
        self._written(target, "inserted", external_id)
        return 1

    def _attempt_create(self, target: WriteTarget) -> None:
        """Commit "about to create" on its own, before the call: a retry after a lost answer then looks first."""
        with self.intents() as intent, intent.begin():
            intent.execute(
                insert(WriteBack)
                .values(
                    tenant_id=self.tenant_id,
                    appointment_id=self.appointment.id,
                    calendar_id=target.calendar_id,
                    provider=target.provider,
                    create_attempted_at=func.now(),
                )
                .on_conflict_do_update(
                    index_elements=[WriteBack.appointment_id, WriteBack.calendar_id],
                    set_={"create_attempted_at": func.now()},
                )
            )

    def _record(
        self, target: WriteTarget, *, state: str, external_id: str | None = None, error: str | None = None
    ) -> None:
        values: dict[str, object] = {
            "state": state,
            "starts_at": self.draft.starts_at,
            "ends_at": self.draft.ends_at,
            "problem": None if error is None else error[:500],
            "updated_at": func.now(),
        }
        if external_id is not None:
            values["external_id"] = external_id
        self.session.execute(
            insert(WriteBack)
            .values(
                tenant_id=self.tenant_id,
                appointment_id=self.appointment.id,
                calendar_id=target.calendar_id,
                provider=target.provider,
                **values,
            )
            .on_conflict_do_update(index_elements=[WriteBack.appointment_id, WriteBack.calendar_id], set_=values)
        )

    def _written(self, target: WriteTarget, action: str, external_id: str) -> None:
        self.events.emit(
            AppointmentWrittenBack(
                appointment_id=self.appointment.id,
                resource_calendar_id=target.calendar_id,
                provider=target.provider,
                action=action,  # type: ignore[arg-type]
                external_ref=external_id,
            ),
            tenant_id=self.tenant_id,
        )

    def _failed(self, target: WriteTarget, reason: str, detail: str) -> None:
        self.events.emit(
            AppointmentWriteBackFailed(
                appointment_id=self.appointment.id,
                resource_calendar_id=target.calendar_id,
                provider=target.provider,
                reason=reason,  # type: ignore[arg-type]
                detail=detail[:500],
                starts_at=self.appointment.starts_at,
                ends_at=self.appointment.ends_at,
                customer_phone=self.appointment.customer_phone,
                conversation_id=self.appointment.conversation_id,
            ),
            tenant_id=self.tenant_id,
        )
