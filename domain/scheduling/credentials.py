"""A resource calendar's OAuth tokens: linked by the tenant (CLI or staff app), encrypted at rest, read only to write
an appointment back, renewed with the refresh token (``token_refresh``), and marked invalid when the provider refuses
them (until linked again).

Tokens are encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from ``cryptography``) under a key derived (HKDF-
SHA256) from the deployment's ``CALENDAR_CREDENTIALS_KEY``; the database never holds one in clear, and no record
handed out carries one.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.scheduling.errors import SchedulingError
from domain.scheduling.models import CalendarCredential, Resource, ResourceCalendar

WriteProvider = Literal["google", "jobber"]
WRITE_PROVIDERS: tuple[WriteProvider, ...] = ("google", "jobber")
MAX_TOKEN_CHARS = 4096
MAX_REF_CHARS = 1024


class InvalidCalendarLink(SchedulingError):
    """One field of a calendar link is not acceptable; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CredentialBox:
    """Encrypts and decrypts tokens under one Fernet key (none configured: linking says so)."""

    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(_derive(secret)) if secret else None

    def _key(self) -> Fernet:
        if self._fernet is None:
            raise InvalidCalendarLink(
                "calendar_credentials_key", "CALENDAR_CREDENTIALS_KEY is not set, so no token can be stored"
            )
        return self._fernet

    def seal(self, token: str) -> bytes:
        return self._key().encrypt(token.encode())

    def open(self, sealed: bytes) -> str | None:
        """The token, or None when it was sealed under another key (the key was rotated: relink)."""
        try:
            return self._key().decrypt(bytes(sealed)).decode()
        except InvalidToken:
            return None


def _derive(secret: str) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"nmc calendar credentials").derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(key)


@dataclass(frozen=True)
class LinkedCalendar:
    """A resource calendar we may write to (no token in it)."""

    calendar_id: uuid.UUID
    resource_id: uuid.UUID
    provider: str
    external_ref: str
    status: str
    problem: str | None
    linked_at: datetime


@dataclass(frozen=True)
class WriteTarget:
    """What a writer needs for one calendar: where, as whom (the decrypted token), in which time zone."""

    calendar_id: uuid.UUID
    provider: WriteProvider
    external_ref: str
    timezone: str
    access_token: str
    jobber_job_id: str | None
    # When the access token stops working (None: not known), and whether a refresh token is stored to renew it.
    token_expires_at: datetime | None = None
    refreshable: bool = False

    @property
    def jobber_user_id(self) -> str | None:
        # A Jobber calendar's external_ref is "<accountId>" or "<accountId>/<userId>" (one technician's visits).
        return self.external_ref.partition("/")[2] or None


def _text(field: str, value: str | None, limit: int, *, required: bool = True) -> str | None:
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise InvalidCalendarLink(field, "cannot be empty")
        return None
    if len(cleaned) > limit or any(ord(char) < 32 for char in cleaned):
        raise InvalidCalendarLink(field, f"at most {limit} printable characters")
    return cleaned


def link_calendar(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    resource_id: uuid.UUID,
    provider: str,
    external_ref: str,
    access_token: str,
    box: CredentialBox,
    refresh_token: str | None = None,
    token_expires_at: datetime | None = None,
    jobber_job_id: str | None = None,
) -> LinkedCalendar:
    """Link (or relink) the resource's ``provider`` calendar ``external_ref`` with OAuth tokens: the calendar is made
    if it is not mirrored yet, the tokens are stored encrypted and the link is active again."""
    if provider not in WRITE_PROVIDERS:
        raise InvalidCalendarLink("provider", "google or jobber")
    ref = _text("external_ref", external_ref, MAX_REF_CHARS)
    token = _text("access_token", access_token, MAX_TOKEN_CHARS)
    refresh = _text("refresh_token", refresh_token, MAX_TOKEN_CHARS, required=False)
    job = _text("jobber_job_id", jobber_job_id, MAX_REF_CHARS, required=provider == "jobber")
    assert ref is not None
    assert token is not None
    resource = session.scalars(
        select(Resource.id).where(Resource.id == resource_id, Resource.tenant_id == tenant_id)
    ).one_or_none()
    if resource is None:
        raise InvalidCalendarLink("resource", f"no technician {resource_id} in this business")
    calendar = session.scalars(
        select(ResourceCalendar).where(
            ResourceCalendar.tenant_id == tenant_id,
            ResourceCalendar.resource_id == resource_id,
            ResourceCalendar.provider == provider,
            ResourceCalendar.external_ref == ref,
        )
    ).first()
    if calendar is None:
        calendar = ResourceCalendar(tenant_id=tenant_id, resource_id=resource_id, provider=provider, external_ref=ref)
        session.add(calendar)
        session.flush()
    values = {
        "access_token": box.seal(token),
        "refresh_token": None if refresh is None else box.seal(refresh),
        "token_expires_at": token_expires_at,
        "jobber_job_id": job,
        "status": "active",
        "problem": None,
    }
    session.execute(
        insert(CalendarCredential)
        .values(calendar_id=calendar.id, tenant_id=tenant_id, **values)
        .on_conflict_do_update(
            index_elements=[CalendarCredential.calendar_id], set_={**values, "updated_at": func.now()}
        )
    )
    return _linked(session, tenant_id, calendar.id)


def _linked(session: Session, tenant_id: uuid.UUID, calendar_id: uuid.UUID) -> LinkedCalendar:
    row = session.execute(
        select(ResourceCalendar, CalendarCredential)
        .join(CalendarCredential, CalendarCredential.calendar_id == ResourceCalendar.id)
        .where(ResourceCalendar.id == calendar_id, ResourceCalendar.tenant_id == tenant_id)
        .execution_options(populate_existing=True)
    ).one()
    calendar, credential = row
    return LinkedCalendar(
        calendar.id, calendar.resource_id, calendar.provider, calendar.external_ref, credential.status,
        credential.problem, credential.linked_at,
    )  # fmt: skip


def linked_calendars(session: Session, *, tenant_id: uuid.UUID) -> list[LinkedCalendar]:
    rows = session.execute(
        select(ResourceCalendar, CalendarCredential)
        .join(CalendarCredential, CalendarCredential.calendar_id == ResourceCalendar.id)
        .where(ResourceCalendar.tenant_id == tenant_id)
        .order_by(ResourceCalendar.resource_id, ResourceCalendar.provider, ResourceCalendar.external_ref)
    ).all()
    return [
        LinkedCalendar(
            calendar.id,
            calendar.resource_id,
            calendar.provider,
            calendar.external_ref,
            credential.status,
            credential.problem,
            credential.linked_at,
        )
        for calendar, credential in rows
    ]


def write_targets(
    session: Session, *, tenant_id: uuid.UUID, resource_id: uuid.UUID, box: CredentialBox
) -> list[WriteTarget]:
    """The resource's calendars with usable credentials (active, and readable under the current key)."""
    rows = session.execute(
        select(ResourceCalendar, CalendarCredential, Resource.timezone)
        .join(CalendarCredential, CalendarCredential.calendar_id == ResourceCalendar.id)
        .join(Resource, Resource.id == ResourceCalendar.resource_id)
        .where(
            ResourceCalendar.tenant_id == tenant_id,
            ResourceCalendar.resource_id == resource_id,
            ResourceCalendar.provider.in_(WRITE_PROVIDERS),
            CalendarCredential.status == "active",
        )
        .order_by(ResourceCalendar.id)
    ).all()
    targets = []
    for calendar, credential, timezone in rows:
        token = box.open(credential.access_token)
        if token is None:
            mark_refused(session, calendar_id=calendar.id, problem="the token cannot be read under the current key")
            continue
        targets.append(
            WriteTarget(
                calendar.id, _provider(calendar.provider), calendar.external_ref, timezone, token,
                credential.jobber_job_id, credential.token_expires_at, credential.refresh_token is not None,
            )
        )  # fmt: skip
    return targets


def calendar_target(session: Session, *, calendar_id: uuid.UUID, box: CredentialBox) -> WriteTarget | None:
    """One calendar's target, whatever its resource (to remove an event from a calendar the appointment left)."""
    row = session.execute(
        select(ResourceCalendar, CalendarCredential, Resource.timezone)
        .join(CalendarCredential, CalendarCredential.calendar_id == ResourceCalendar.id)
        .join(Resource, Resource.id == ResourceCalendar.resource_id)
        .where(ResourceCalendar.id == calendar_id, CalendarCredential.status == "active")
    ).one_or_none()
    if row is None:
        return None
    calendar, credential, timezone = row
    token = box.open(credential.access_token)
    if token is None:
        return None
    return WriteTarget(
        calendar.id, _provider(calendar.provider), calendar.external_ref, timezone, token, credential.jobber_job_id,
        credential.token_expires_at, credential.refresh_token is not None,
    )  # fmt: skip


def _provider(value: str) -> WriteProvider:
    # The queries select only the write providers (and the CHECK constraint allows no other).
    return "google" if value == "google" else "jobber"


def mark_refused(session: Session, *, calendar_id: uuid.UUID, problem: str) -> None:
    """The provider refused the tokens: nothing more is written there until they are linked again."""
    session.execute(
        update(CalendarCredential)
        .where(CalendarCredential.calendar_id == calendar_id)
        .values(status="invalid", problem=problem[:500], updated_at=func.now())
    )
