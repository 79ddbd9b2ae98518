"""A conversation's thread: its messages in their true order with who wrote each and how delivery went (and, for a
blocked one, which preflight gate closed), the caller's holds and appointments beside it, and the operator actions
— take over, reply, release, close, name the caller — through the same use cases as the API
(``domain.conversations.operator``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import falcon
from sqlalchemy.orm import Session, sessionmaker

from domain.conversations import operator
from domain.conversations.callers import MAX_CALLER_NAME, InvalidName, clean_name
from domain.scheduling import queries as scheduling
from ingress.api.base import caller, request_events, sending_number, tenant_transaction
from ingress.api.resources import operator_errors
from ingress.errors import ApiError
from ingress.staff_app.auth import StaffAuthenticate, authenticate_staff
from ingress.staff_app.csrf import check_csrf
from ingress.staff_app.pages import Pages, parse_form
from ingress.staff_app.screens import Screen

MAX_REPLY = 1600
MAX_REASON = 500
# What a stored preflight reason means to the person reading the thread.
PREFLIGHT_REASONS = {
    "campaign_not_approved": "not sent: the business's 10DLC campaign is not approved yet",
    "opted_out": "not sent: the caller opted out (STOP)",
    "feature_disabled": "not sent: texting is not included in the current plan",
    "conversation_blocked": "not sent: the conversation is blocked",
    "appointment_changed": "not sent: the appointment was moved or cancelled while the reminder waited",
}


def _caller_bookings(session: Session, tenant_id: uuid.UUID, phone: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "holds": scheduling.active_holds_for(session, tenant_id=tenant_id, customer_phone=phone),
        "appointments": scheduling.list_appointments(
            session,
            tenant_id=tenant_id,
            status=None,
            customer_phone=phone,
            ends_after=now - timedelta(days=30),
            starts_before=None,
            limit=20,
        ),
    }


@falcon.before(authenticate_staff)
class ThreadResource(Screen):
    """GET /app/conversations/{id} (the page) and /messages (the thread alone, for live updates)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, conversation_id: uuid.UUID) -> None:
        self._render(req, resp, conversation_id, "thread.html")

    def on_get_messages(self, req: falcon.Request, resp: falcon.Response, conversation_id: uuid.UUID) -> None:
        self._render(req, resp, conversation_id, "thread_messages.html")

    def _render(self, req: falcon.Request, resp: falcon.Response, conversation_id: uuid.UUID, template: str) -> None:
        who = caller(req)
        with self.transaction(req) as session, operator_errors():
            conversation = operator.thread(
                session, tenant_id=who.tenant_id, conversation_id=conversation_id, reader=who.user_id
            )
            bookings = _caller_bookings(session, who.tenant_id, conversation["caller"])
        self.pages.render(
            req,
            resp,
            template,
            active="inbox",
            conversation=conversation,
            bookings=bookings,
            held_by_me=conversation["human_user_id"] is not None and conversation["human_user_id"] == str(who.user_id),
            reasons=PREFLIGHT_REASONS,
            first_text_reasons=FIRST_TEXT_REASONS,
            max_caller_name=MAX_CALLER_NAME,
        )


# Why a first text held for a callback went, or did not, as staff read it in the thread.
FIRST_TEXT_REASONS = {
    "staff_called_back": "someone called them back from the business number",
    "caller_recall_answered": "they called again and someone answered",
    "no_callback": "nobody called back in time",
    "no_callback_call_list_unavailable": "no callback was seen; Twilio's call list could not be read",
    "staff_took_over": "someone on the team had taken the conversation",
    "conversation_ended": "the conversation was closed or blocked",
}


def _text(form: dict[str, str], name: str, *, default: str | None, limit: int) -> str:
    value = form.get(name, "").strip()
    if not value:
        if default is None:
            raise ApiError(falcon.HTTP_422, "validation_failed", f"{name}: write something first")
        return default
    if len(value) > limit:
        raise ApiError(falcon.HTTP_422, "validation_failed", f"{name}: at most {limit} characters")
    return value


@falcon.before(authenticate_staff)
class ThreadActionsResource:
    """POST /app/conversations/{id}/takeover, /reply, /release, /close, /name (forms, CSRF-checked); each answers
    303 back to the thread."""

    def __init__(
        self, auth: StaffAuthenticate, sessions: sessionmaker[Session], pages: Pages, lease: timedelta
    ) -> None:
        self.auth = auth
        self.sessions = sessions
        self.pages = pages
        self._lease = lease

    def _act(self, req: falcon.Request, conversation_id: uuid.UUID, action: Any) -> None:
        who = caller(req)
        with tenant_transaction(self.sessions, who.tenant_id) as session, operator_errors():
            action(session, who)
        raise falcon.HTTPSeeOther(f"/app/conversations/{conversation_id}")

    @falcon.before(parse_form)
    @falcon.before(check_csrf)
    def on_post_takeover(self, req: falcon.Request, resp: falcon.Response, conversation_id: uuid.UUID) -> None:
        reason = _text(req.context.form, "reason", default="taken over in the staff app", limit=MAX_REASON)
        self._act(
            req,
            conversation_id,
            lambda session, who: operator.take_over(
                session,
                events=request_events(req, session),
                tenant_id=who.tenant_id,
                conversation_id=conversation_id,
                user_id=who.user_id,
                reason=reason,
                lease=self._lease,
            ),
        )

    @falcon.before(parse_form)
    @falcon.before(check_csrf)
    def on_post_reply(self, req: falcon.Request, resp: falcon.Response, conversation_id: uuid.UUID) -> None:
        body = _text(req.context.form, "body", default=None, limit=MAX_REPLY)

        def reply(session: Session, who: Any) -> None:
            from_number = sending_number(session, who.tenant_id)
            operator.reply_as_human(
                session,
                events=request_events(req, session),
                tenant_id=who.tenant_id,
                conversation_id=conversation_id,
                user_id=who.user_id,
                body=body,
                from_number=from_number,
            )

        self._act(req, conversation_id, reply)

    @falcon.before(parse_form)
    @falcon.before(check_csrf)
    def on_post_release(self, req: falcon.Request, resp: falcon.Response, conversation_id: uuid.UUID) -> None:
        self._act(
            req,
            conversation_id,
            lambda session, who: operator.release(
                session, events=request_events(req, session), tenant_id=who.tenant_id, conversation_id=conversation_id
            ),
        )

    @falcon.before(parse_form)
    @falcon.before(check_csrf)
    def on_post_close(self, req: falcon.Request, resp: falcon.Response, conversation_id: uuid.UUID) -> None:
        reason = _text(req.context.form, "reason", default="closed in the staff app", limit=MAX_REASON)
        self._act(
            req,
            conversation_id,
            lambda session, who: operator.close(
                session,
                events=request_events(req, session),
                tenant_id=who.tenant_id,
                conversation_id=conversation_id,
                reason=reason,
            ),
        )

    @falcon.before(parse_form)
    @falcon.before(check_csrf)
    def on_post_name(self, req: falcon.Request, resp: falcon.Response, conversation_id: uuid.UUID) -> None:
        """The caller's name, for every conversation with their number (OWNER and TECH alike: whoever is on the
        phone with them knows it); another tenant's conversation is 404."""
        try:
            name = clean_name(req.context.form.get("name", ""))
        except InvalidName as error:
            raise ApiError(falcon.HTTP_422, "validation_failed", str(error)) from None
        self._act(
            req,
            conversation_id,
            lambda session, who: operator.name_caller(
                session,
                events=request_events(req, session),
                tenant_id=who.tenant_id,
                conversation_id=conversation_id,
                name=name,
                user_id=who.user_id,
            ),
        )
