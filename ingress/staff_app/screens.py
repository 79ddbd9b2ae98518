"""What the screens' resources share: their collaborators and the tenant-scoped transaction they read in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import falcon
from sqlalchemy.orm import Session, sessionmaker

from domain.identity import service as identity
from ingress.api.base import caller, tenant_transaction
from ingress.staff_app.auth import StaffAuthenticate
from ingress.staff_app.pages import Pages


class Screen:
    def __init__(self, auth: StaffAuthenticate, sessions: sessionmaker[Session], pages: Pages) -> None:
        self.auth = auth
        self.sessions = sessions
        self.pages = pages

    @contextmanager
    def transaction(self, req: falcon.Request) -> Iterator[Session]:
        """The member's tenant's RLS transaction, with the tenant's name and time zone put on the page context."""
        tenant_id = caller(req).tenant_id
        with tenant_transaction(self.sessions, tenant_id) as session:
            tenant = identity.get_tenant(session, tenant_id)
            if tenant is not None:
                req.context.tenant_name = tenant.name
                req.context.tenant_timezone = tenant.timezone
                req.context.tenant_number = tenant.phone_number
            yield session
