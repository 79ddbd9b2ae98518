"""The /v1 resources. Every one authenticates (``falcon.before``), works inside its tenant's RLS transaction, and
scopes every query by the caller's tenant too: another tenant's id is simply not found (404)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import falcon
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker

from domain.billing import service as billing
from domain.compliance import registration
from domain.compliance import service as compliance
from domain.conversations import operator
from domain.identity import service as identity
from ingress.api.base import (
    Authenticate,
    authenticate,
    caller,
    json_object,
    parse_model,
    query_int,
    request_events,
    require_owner,
    run_post,
    sending_number,
    tenant_transaction,
)
from ingress.errors import ApiError

E164 = Field(pattern=r"^\+[1-9][0-9]{6,14}$")


class Strict(BaseModel):
    # strict: an integer field takes a JSON integer only (not true, 30.0 or "30"), a boolean only true/false.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ReplyBody(Strict):
    body: str = Field(min_length=1, max_length=1600)


class TakeoverBody(Strict):
    reason: str = Field(default="operator takeover", min_length=1, max_length=500)
    lease_minutes: int = Field(default=30, ge=1, le=24 * 60)


class CloseBody(Strict):
    reason: str = Field(default="closed by operator", min_length=1, max_length=500)


class CampaignBody(Strict):
    """The 10DLC campaign details a tenant submits for review (Twilio's bounds for each field)."""

    use_case: Literal["CUSTOMER_CARE", "MIXED", "LOW_VOLUME", "ACCOUNT_NOTIFICATION", "DELIVERY_NOTIFICATION"] = (
        "CUSTOMER_CARE"
    )
    description: str = Field(min_length=40, max_length=4096)
    message_samples: tuple[Annotated[str, Field(min_length=20, max_length=1024)], ...] = Field(
        min_length=2, max_length=5
    )
    message_flow: str = Field(min_length=40, max_length=2048)


# Written only by the provider poll or the operator: a tenant naming one of these is refused (403), not ignored.
PROVIDER_OWNED_FIELDS = frozenset(
    {"status", "reason", "status_reason", "provider_status", "messaging_service_sid", "provider_campaign_sid"}
)


class BrandBody(Strict):
    legal_name: str = Field(min_length=1, max_length=200)
    ein: str | None = Field(default=None, max_length=20)


class RoleBody(Strict):
    role: Literal["OWNER", "TECH"]


class Empty(Strict):
    pass


class CallSettingsBody(Strict):
    callback_grace_seconds: Annotated[int, Field(ge=0, le=120)]


def _operator_error(error: operator.OperatorError) -> ApiError:
    if isinstance(error, operator.NotFound):
        return ApiError(falcon.HTTP_404, "not_found", str(error))
    if isinstance(error, operator.BadCursor):
        return ApiError(falcon.HTTP_400, "bad_cursor", str(error))
    return ApiError(falcon.HTTP_409, "conflict", str(error))


def identity_error(error: identity.IdentityError) -> ApiError:
    if isinstance(error, identity.NotFound):
        return ApiError(falcon.HTTP_404, "not_found", str(error))
    if isinstance(error, identity.Conflict):
        return ApiError(falcon.HTTP_409, "conflict", str(error))
    if isinstance(error, identity.NotAllowed):
        return ApiError(falcon.HTTP_403, "forbidden", str(error))
    if isinstance(error, identity.Gone):
        return ApiError(falcon.HTTP_410, "gone", str(error))
    return ApiError(falcon.HTTP_422, "validation_failed", str(error))


@contextmanager
def operator_errors() -> Iterator[None]:
    """An ``OperatorError`` raised inside leaves as its 4xx (``_operator_error``), rolling back the transaction."""
    try:
        yield
    except operator.OperatorError as error:
        raise _operator_error(error) from None


@contextmanager
def identity_errors() -> Iterator[None]:
    """An ``IdentityError`` raised inside leaves as its 4xx (``identity_error``), rolling back the transaction."""
    try:
        yield
    except identity.IdentityError as error:
        raise identity_error(error) from None


class Resource:
    def __init__(self, auth: Authenticate, sessions: sessionmaker[Session]) -> None:
        self.auth = auth
        self.sessions = sessions


@falcon.before(authenticate)
class MeResource(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            tenant = identity.get_tenant(session, who.tenant_id)
        # The caller's own profile, as their token states it, and their own memberships (to choose among).
        resp.media = {
            "clerk_user_id": who.clerk_user_id,
            "user_id": str(who.user_id) if who.user_id else None,
            "email": who.profile.email,
            "name": who.profile.name,
            "role": who.role,
            "tenant": tenant.as_json() if tenant else None,
            "memberships": [
                {"tenant_id": str(tenant_id), "role": role, "default": tenant_id == who.principal.default_tenant}
                for tenant_id, role in sorted(who.principal.roles.items(), key=lambda item: str(item[0]))
            ],
        }


@falcon.before(authenticate)
class ConversationsResource(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        limit = query_int(req, "limit", min_value=1, max_value=operator.MAX_PAGE, default=50)
        state = req.get_param("state")
        if state is not None and state not in operator.CONVERSATION_STATES:
            raise ApiError(falcon.HTTP_400, "malformed", "state must be open, human, closed or blocked")
        with tenant_transaction(self.sessions, who.tenant_id) as session, operator_errors():
            page = operator.list_conversations(
                session,
                tenant_id=who.tenant_id,
                state=state,
                caller=req.get_param("caller"),
                limit=limit,
                cursor=req.get_param("cursor"),
            )
        resp.media = {"items": page.items, "next_cursor": page.next_cursor}


@falcon.before(authenticate)
class ConversationResource(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response, conversation_id: uuid.UUID) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session, operator_errors():
            resp.media = operator.conversation_detail(session, tenant_id=who.tenant_id, conversation_id=conversation_id)


@falcon.before(authenticate)
class ConversationActionResource(Resource):
    """POST /v1/conversations/{id}/takeover, /reply, /release and /close: one ``suffix`` responder each."""

    def on_post_takeover(self, req: falcon.Request, resp: falcon.Response, conversation_id: uuid.UUID) -> None:
        who = caller(req)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            with operator_errors():
                takeover = parse_model(body, TakeoverBody)
                return 200, operator.take_over(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    conversation_id=conversation_id,
                    user_id=who.user_id,
                    reason=takeover.reason,
                    lease=timedelta(minutes=takeover.lease_minutes),
                )

        run_post(req, resp, self.sessions, act)

    def on_post_reply(self, req: falcon.Request, resp: falcon.Response, conversation_id: uuid.UUID) -> None:
        who = caller(req)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            with operator_errors():
                reply = parse_model(body, ReplyBody)
                from_number = sending_number(session, who.tenant_id)
                return 202, operator.reply_as_human(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    conversation_id=conversation_id,
                    user_id=who.user_id,
                    body=reply.body,
                    from_number=from_number,
                )

        run_post(req, resp, self.sessions, act)

    def on_post_release(self, req: falcon.Request, resp: falcon.Response, conversation_id: uuid.UUID) -> None:
        who = caller(req)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            with operator_errors():
                parse_model(body, Empty)
                return 200, operator.release(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    conversation_id=conversation_id,
                )

        run_post(req, resp, self.sessions, act)

    def on_post_close(self, req: falcon.Request, resp: falcon.Response, conversation_id: uuid.UUID) -> None:
        who = caller(req)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            with operator_errors():
                closing = parse_model(body, CloseBody)
                return 200, operator.close(
                    session,
                    events=request_events(req, session),
                    tenant_id=who.tenant_id,
                    conversation_id=conversation_id,
                    reason=closing.reason,
                )

        run_post(req, resp, self.sessions, act)


@falcon.before(authenticate)
class TasksResource(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        status = req.get_param("status", default="open")
        if status not in ("open", "done", "all"):
            raise ApiError(falcon.HTTP_400, "malformed", "status must be open, done or all")
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            items = operator.list_tasks(session, tenant_id=who.tenant_id, status=None if status == "all" else status)
        resp.media = {"items": items}


@falcon.before(authenticate)
class TaskDoneResource(Resource):
    def on_post(self, req: falcon.Request, resp: falcon.Response, task_id: uuid.UUID) -> None:
        who = caller(req)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            parse_model(body, Empty)
            with operator_errors():
                return 200, operator.complete_task(session, tenant_id=who.tenant_id, task_id=task_id)

        run_post(req, resp, self.sessions, act)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _compliance_json(status: compliance.ComplianceStatus) -> dict[str, Any]:
    return {
        "campaign": {
            "id": str(status.campaign_id) if status.campaign_id else None,
            "status": status.campaign_status,
            "status_reason": status.status_reason,
            "use_case": status.use_case,
            "description": status.description,
            "message_samples": list(status.message_samples),
            "message_flow": status.message_flow,
            "submitted_at": _iso(status.submitted_at),
            "updated_at": _iso(status.updated_at),
            # The status is the carrier's verdict, read from the provider by a periodic poll.
            "provider": {
                "linked": status.linked_to_provider,
                "status": status.provider_status,
                "checked_at": _iso(status.provider_checked_at),
            },
        },
        "brand": {"legal_name": status.brand_legal_name, "ein": status.brand_ein} if status.brand_legal_name else None,
        "sms_allowed": status.sms_allowed,
        # Until the campaign is approved calls are still recorded and conversations opened, but no SMS leaves.
        "blocked_reason": None if status.sms_allowed else "campaign_not_approved",
        "active_opt_outs": status.active_opt_outs,
    }


def _refuse_provider_fields(body: bytes) -> None:
    claimed = sorted(PROVIDER_OWNED_FIELDS & set(json_object(body)))
    if claimed:
        raise ApiError(
            falcon.HTTP_403,
            "forbidden",
            f"{claimed[0]} is not the tenant's to set: the 10DLC status comes from the carrier via the provider",
        )


@falcon.before(authenticate)
class ComplianceResource(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            resp.media = _compliance_json(compliance.compliance_status(session, tenant_id=who.tenant_id))


@falcon.before(authenticate)
class CampaignResource(Resource):
    """POST the campaign details for review. Changed details make the campaign ``pending``; the tenant never
    chooses the status (``approved``/``rejected`` come from the provider poll or the operator's CLI)."""

    @falcon.before(require_owner)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            _refuse_provider_fields(body)
            submitted = parse_model(body, CampaignBody)
            registration.submit_campaign(
                session,
                events=request_events(req, session),
                tenant_id=who.tenant_id,
                details=registration.CampaignDetails(
                    use_case=submitted.use_case,
                    description=submitted.description,
                    message_samples=submitted.message_samples,
                    message_flow=submitted.message_flow,
                ),
                submitted_by=f"user:{who.clerk_user_id}",
            )
            return 200, _compliance_json(compliance.compliance_status(session, tenant_id=who.tenant_id))

        run_post(req, resp, self.sessions, act)


@falcon.before(authenticate)
class BrandResource(Resource):
    """POST the 10DLC brand; a changed brand is reviewed again, so the campaign becomes ``pending``."""

    @falcon.before(require_owner)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)

        def act(session: Session, body: bytes) -> tuple[int, dict[str, Any]]:
            _refuse_provider_fields(body)
            brand = parse_model(body, BrandBody)
            registration.submit_brand(
                session,
                events=request_events(req, session),
                tenant_id=who.tenant_id,
                legal_name=brand.legal_name,
                ein=brand.ein,
                submitted_by=f"user:{who.clerk_user_id}",
            )
            return 200, _compliance_json(compliance.compliance_status(session, tenant_id=who.tenant_id))

        run_post(req, resp, self.sessions, act)


@falcon.before(authenticate)
class UsersResource(Resource):
    """Members are listed here and made only by invitation (``/v1/invitations``): nobody attaches a user by id."""

    @falcon.before(require_owner)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            members = identity.list_members(session, who.tenant_id)
        resp.media = {"items": [member.as_json() for member in members]}


@falcon.before(authenticate)
class UserResource(Resource):
    @falcon.before(require_owner)
    def on_patch(self, req: falcon.Request, resp: falcon.Response, user_id: uuid.UUID) -> None:
        who = caller(req)
        change = parse_model(req.bounded_stream.read(), RoleBody)
        with tenant_transaction(self.sessions, who.tenant_id) as session, identity_errors():
            resp.media = identity.set_role(
                session, tenant_id=who.tenant_id, user_id=user_id, role=change.role
            ).as_json()

    @falcon.before(require_owner)
    def on_delete(self, req: falcon.Request, resp: falcon.Response, user_id: uuid.UUID) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session, identity_errors():
            identity.remove_member(
                session, events=request_events(req, session), tenant_id=who.tenant_id, user_id=user_id
            )
        resp.status = falcon.HTTP_204


@falcon.before(authenticate)
class CallSettingsResource(Resource):
    """/v1/settings/calls: the callback grace period (what ``nmc tenant update --callback-grace`` and the staff
    app's Settings → Messages & numbers set); any member reads it, an OWNER changes it."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            resp.media = {"callback_grace_seconds": identity.callback_grace_seconds(session, who.tenant_id)}

    @falcon.before(require_owner)
    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        change = parse_model(req.bounded_stream.read(), CallSettingsBody)
        with tenant_transaction(self.sessions, who.tenant_id) as session, identity_errors():
            seconds = identity.update_callback_grace(
                session, tenant_id=who.tenant_id, seconds=change.callback_grace_seconds
            )
        resp.media = {"callback_grace_seconds": seconds}


@falcon.before(authenticate)
class FeatureGatesResource(Resource):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            state = identity.gate_state(session, who.tenant_id)
        if state is None:
            resp.media = {"plan": None, "subscription_status": None, "gates": {}, "grace_ends_at": None}
            return
        resp.media = {
            "plan": state.plan,
            "subscription_status": state.subscription_status,
            "gates": state.gates,
            "grace_ends_at": state.grace_ends_at.isoformat() if state.grace_ends_at else None,
        }


@falcon.before(authenticate)
class SubscriptionResource(Resource):
    @falcon.before(require_owner)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session:
            row = billing.subscription_for(session, who.tenant_id)
            resp.media = (
                {"subscription": None}
                if row is None
                else {
                    "subscription": {
                        "stripe_subscription_id": row.stripe_subscription_id,
                        "plan": row.plan,
                        "status": row.status,
                        "current_period_end": row.current_period_end.isoformat() if row.current_period_end else None,
                    }
                }
            )
