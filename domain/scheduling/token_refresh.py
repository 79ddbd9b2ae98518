"""Renewing a linked calendar's access token with its refresh token (the OAuth 2.0 ``refresh_token`` grant): before
a write when the token expires within a minute, and once after the provider answered 401.

The exchange and the store run in their own short transaction, with the credential row locked (``SELECT … FOR
UPDATE``) and committed before any write uses the new token. Jobber rotates refresh tokens (the old one stops working
the moment a new one is issued), so a rotated token must not ride on the handler's transaction, which a later 5xx
rolls back; and two workers renewing one calendar at once must not both spend the same refresh token: the second,
once it holds the lock, finds the token the first stored and uses that.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from domain.scheduling.credentials import CredentialBox, WriteProvider, WriteTarget
from domain.scheduling.errors import CalendarUnavailable, SchedulingError
from domain.scheduling.models import CalendarCredential

# Renew this long before the expiry, so a token does not lapse between the check and the provider's own.
EXPIRY_LEEWAY = timedelta(seconds=60)
# Another worker renewing the same calendar holds the row for one token exchange (seconds at most).
LOCK_TIMEOUT = "15s"


@dataclass(frozen=True)
class RefreshedTokens:
    access_token: str
    expires_at: datetime | None
    # A new refresh token (Jobber rotates them on every use): stored in place of the old one, which no longer works.
    refresh_token: str | None = None


class RefreshRefused(SchedulingError):
    """The token endpoint refused the exchange (``invalid_grant``: revoked or already used; a 400/401): only linking
    the calendar again helps."""


class TokenRefresher(Protocol):
    """The providers' token endpoints (``workers/adapters/oauth_tokens.py``); raises ``RefreshRefused``, or
    ``CalendarUnavailable`` when the endpoint is down (the delivery retries)."""

    def refresh(self, provider: WriteProvider, refresh_token: str, *, now: datetime) -> RefreshedTokens: ...


def expiring(target: WriteTarget, now: datetime) -> bool:
    """Whether the target's access token should be renewed before it is used."""
    return target.refreshable and target.token_expires_at is not None and target.token_expires_at <= now + EXPIRY_LEEWAY


def renew_target(
    sessions: sessionmaker[Session],
    target: WriteTarget,
    *,
    box: CredentialBox,
    refresher: TokenRefresher,
    now: datetime,
    rejected: bool,
) -> WriteTarget | None:
    """The target with a working access token: renewed here, or renewed meanwhile by another worker. ``rejected``:
    the provider answered 401 to ``target.access_token`` (else it is merely about to expire). None when the link is
    no longer active (refused meanwhile: nothing is written there)."""
    try:
        with sessions() as session, session.begin():
            session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            row = session.scalars(
                select(CalendarCredential)
                .where(CalendarCredential.calendar_id == target.calendar_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one_or_none()
            if row is None or row.status != "active":
                return None
            stored = box.open(row.access_token)
            if stored is None:
                raise RefreshRefused("the token cannot be read under the current key")
            if stored != target.access_token:  # renewed (or relinked) since we read it
                return _with(target, stored, row)
            if not rejected and (row.token_expires_at is None or row.token_expires_at > now + EXPIRY_LEEWAY):
                return _with(target, stored, row)
            sealed_refresh = row.refresh_token
            refresh = None if sealed_refresh is None else box.open(sealed_refresh)
            if refresh is None:
                raise RefreshRefused("the access token expired and no readable refresh token is stored")
            tokens = refresher.refresh(target.provider, refresh, now=now)
            values: dict[str, object] = {
                "access_token": box.seal(tokens.access_token),
                "token_expires_at": tokens.expires_at,
                "updated_at": func.now(),
            }
            if tokens.refresh_token is not None and tokens.refresh_token != refresh:
                values["refresh_token"] = box.seal(tokens.refresh_token)
            session.execute(
                update(CalendarCredential).where(CalendarCredential.calendar_id == target.calendar_id).values(**values)
            )
            return dataclasses.replace(
                target, access_token=tokens.access_token, token_expires_at=tokens.expires_at, refreshable=True
            )
    except OperationalError as error:  # lock_timeout: another worker is stuck renewing it; the delivery retries
        raise CalendarUnavailable(f"{target.provider}: the credentials are being renewed elsewhere") from error


def _with(target: WriteTarget, token: str, row: CalendarCredential) -> WriteTarget:
    return dataclasses.replace(
        target, access_token=token, token_expires_at=row.token_expires_at, refreshable=row.refresh_token is not None
    )
