"""The operator API under /v1 (Clerk JWT, tenant-scoped, row-level security), described by /v1/openapi.json and
rendered at /v1/docs; browsers on the CLERK_AUTHORIZED_PARTIES origins may call it cross-origin (``cors``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

import falcon
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings
from ingress.api import catalog, invitations, reports, scheduling
from ingress.api import resources as r
from ingress.api import settings as settings_api
from ingress.api.base import Authenticate
from ingress.api.cors import ApiCorsMiddleware
from ingress.api.docs import add_docs_routes
from ingress.api.openapi import OPENAPI_PATH, OpenApiResource
from ingress.api.routing import use_ascii_uuids
from ingress.auth import ClerkVerifier


class _HasSessions(Protocol):
    sessions: sessionmaker[Session]


def register_api(
    app: falcon.App, settings: Settings, deps: _HasSessions, *, verifier: ClerkVerifier | None = None
) -> None:
    auth = Authenticate(verifier or ClerkVerifier(settings), deps.sessions)
    sessions = deps.sessions
    use_ascii_uuids(app)
    app.add_middleware(ApiCorsMiddleware(settings.clerk_authorized_parties))
    app.add_route(OPENAPI_PATH, OpenApiResource())
    add_docs_routes(app)
    app.add_route("/v1/me", r.MeResource(auth, sessions))
    app.add_route("/v1/conversations", r.ConversationsResource(auth, sessions))
    app.add_route("/v1/conversations/{conversation_id:uuid}", r.ConversationResource(auth, sessions))
    conversation = r.ConversationActionResource(auth, sessions)
    for action in ("takeover", "reply", "release", "close"):
        app.add_route(f"/v1/conversations/{{conversation_id:uuid}}/{action}", conversation, suffix=action)
    app.add_route("/v1/tasks", r.TasksResource(auth, sessions))
    app.add_route("/v1/tasks/{task_id:uuid}/done", r.TaskDoneResource(auth, sessions))
    app.add_route("/v1/compliance", r.ComplianceResource(auth, sessions))
    app.add_route("/v1/compliance/campaign", r.CampaignResource(auth, sessions))
    app.add_route("/v1/compliance/brand", r.BrandResource(auth, sessions))
    app.add_route("/v1/users", r.UsersResource(auth, sessions))
    app.add_route("/v1/users/{user_id:uuid}", r.UserResource(auth, sessions))
    invitation_ttl = timedelta(hours=settings.invitation_ttl_hours)
    app.add_route("/v1/invitations", invitations.InvitationsResource(auth, sessions, invitation_ttl))
    app.add_route("/v1/invitations/accept", invitations.AcceptInvitationResource(auth, sessions))
    app.add_route("/v1/invitations/{invitation_id:uuid}", invitations.InvitationResource(auth, sessions))
    app.add_route("/v1/feature-gates", r.FeatureGatesResource(auth, sessions))
    app.add_route("/v1/settings/calls", r.CallSettingsResource(auth, sessions))
    app.add_route("/v1/billing/subscription", r.SubscriptionResource(auth, sessions))
    app.add_route("/v1/service-items", catalog.ServiceItemsResource(auth, sessions))
    app.add_route("/v1/service-items/match", catalog.ServiceItemMatchResource(auth, sessions))
    app.add_route("/v1/service-items/{service_item_id:uuid}", catalog.ServiceItemResource(auth, sessions))
    scheduling.register(app, auth, sessions, settings)
    app.add_route("/v1/reports", reports.ReportsResource(auth, sessions))
    app.add_route("/v1/settings/lifecycle", settings_api.LifecycleSettingsResource(auth, sessions))


__all__ = ["register_api"]
