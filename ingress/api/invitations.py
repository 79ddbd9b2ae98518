"""/v1/invitations: an OWNER invites an email address with a role, lists and revokes open invitations; the invited
user accepts with their own signed-in token, whose verified email must be the invited one."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Literal

import falcon
from pydantic import Field
from sqlalchemy.orm import Session, sessionmaker

from db.base import E164_PATTERN
from domain.identity import invitations
from ingress.api.base import (
    Authenticate,
    authenticate,
    authenticate_user,
    caller,
    parse_model,
    request_events,
    require_owner,
    tenant_transaction,
)
from ingress.api.resources import Resource, Strict, identity_errors
from ingress.auth import Claims


class InvitationBody(Strict):
    email: str = Field(min_length=3, max_length=invitations.MAX_EMAIL)
    role: Literal["OWNER", "TECH"]
    mobile: str | None = Field(default=None, pattern=E164_PATTERN)


class AcceptBody(Strict):
    token: str = Field(min_length=16, max_length=200)


class InvitationsResource(Resource):
    def __init__(self, auth: Authenticate, sessions: sessionmaker[Session], ttl: timedelta) -> None:
        super().__init__(auth, sessions)
        self._ttl = ttl

    @falcon.before(authenticate)
    @falcon.before(require_owner)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            found = invitations.list_open(session, who.tenant_id)
        resp.media = {"items": [record.as_json() for record in found]}

    @falcon.before(authenticate)
    @falcon.before(require_owner)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        # Not run through Idempotency-Key storage: the response carries the token, which is stored nowhere in the
        # clear. Posting again is a resend: a new token, and the previous one stops working.
        who = caller(req)
        body = parse_model(req.bounded_stream.read(), InvitationBody)
        with tenant_transaction(self.sessions, who.tenant_id) as session, identity_errors():
            issued = invitations.invite(
                session,
                events=request_events(req, session),
                tenant_id=who.tenant_id,
                email=body.email,
                role=body.role,
                mobile=body.mobile,
                ttl=self._ttl,
                invited_by=who.user_id,
            )
        resp.status = falcon.HTTP_201
        resp.media = issued.as_json()


class InvitationResource(Resource):
    @falcon.before(authenticate)
    @falcon.before(require_owner)
    def on_delete(self, req: falcon.Request, resp: falcon.Response, invitation_id: uuid.UUID) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session, identity_errors():
            invitations.revoke(
                session, events=request_events(req, session), tenant_id=who.tenant_id, invitation_id=invitation_id
            )
        resp.status = falcon.HTTP_204


class AcceptInvitationResource(Resource):
    """Any signed-in user may call it, member of a tenant or not; only the invited address gets in."""

    @falcon.before(authenticate_user)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        claims: Claims = req.context.claims
        body = parse_model(req.bounded_stream.read(), AcceptBody)
        # As the owner, like the membership lookup: the user is joining, so there is no tenant scope yet.
        with self.sessions() as session, session.begin(), identity_errors():
            accepted = invitations.accept(
                session,
                events=request_events(req, session),
                token=body.token,
                clerk_user_id=claims.subject,
                email=claims.email,
                name=claims.name,
            )
        resp.media = accepted.as_json()
