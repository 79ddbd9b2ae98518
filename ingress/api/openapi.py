"""The /v1 OpenAPI 3.1 document, built from the same pydantic models the resources validate requests with
(``body``) and the response models their serializers are checked against (``response``, ``ingress.api.responses``).

Which 4xx an operation documents follows from what it has (a path id: 404; a body: 400, 413, 422; tenant-scoped:
400 for ``X-Tenant-Id``; an ``Idempotency-Key``: 400 and 422), plus what only the operation knows (``not_found``,
``conflict``, ``gone``, ``unprocessable``). The tests fuzz every operation and fail on a status it does not document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ingress.api import catalog as c
from ingress.api import invitations as i
from ingress.api import resources as r
from ingress.api import responses as out
from ingress.api import scheduling as s
from ingress.api import settings as lifecycle_settings
from ingress.api.docs import ASSET_PATHS, DOCS_PATH
from ingress.api.scheduling import responses as sout

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error, from every route: switch on `code` (stable); `message` is for people.",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "examples": ["validation_failed", "not_found", "slot_unavailable"]},
                "message": {"type": "string"},
                "reason": {"type": "string", "description": "`slot_unavailable` only: why the slot cannot be had"},
                "alternatives": {
                    "type": "array",
                    "description": "`slot_unavailable` only: nearby open slots",
                    "items": {"$ref": "#/components/schemas/Slot"},
                },
            },
        }
    },
}

# Tags in the order the docs UI shows them; an operation's tag comes from the first segment of its path.
TAGS: tuple[tuple[str, str], ...] = (
    ("Identity", "Who is calling, in which tenant, with which role"),
    ("Conversations", "Conversations with callers, human takeover and replies, operator tasks"),
    ("Team", "Members and their roles, invitations (OWNER)"),
    ("Compliance", "10DLC brand and campaign: whether SMS may leave"),
    ("Billing", "Subscription and the feature gates it opens"),
    ("Catalog", "Service items: duration, price, aliases, active"),
    ("Scheduling", "Resources, working hours, time off and open slots"),
    ("Bookings", "Holds and appointments, with a typed 409 and alternatives when a slot cannot be had"),
    ("Reports", "Per-day figures and totals"),
    (
        "Settings",
        "Tenant settings: the appointment lifecycle (reminders, the one follow-up, quiet hours for the first SMS)"
        " and how missed calls are answered (the callback grace period)",
    ),
)
TAG_OF_SEGMENT = {
    "me": "Identity",
    "conversations": "Conversations",
    "tasks": "Conversations",
    "users": "Team",
    "invitations": "Team",
    "compliance": "Compliance",
    "feature-gates": "Billing",
    "billing": "Billing",
    "service-items": "Catalog",
    "resources": "Scheduling",
    "time-off": "Scheduling",
    "availability": "Scheduling",
    "holds": "Bookings",
    "appointments": "Bookings",
    "reports": "Reports",
    "settings": "Settings",
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    response: type[BaseModel] | None = None  # None only with status 204 (no body)
    owner_only: bool = False
    body: type[BaseModel] | None = None
    status: int = 200
    query: tuple[tuple[str, dict[str, Any]], ...] = ()
    required_query: tuple[str, ...] = ()
    path_params: tuple[str, ...] = field(default=())
    idempotent_post: bool = True
    tenant_scoped: bool = True  # False: any signed-in user, member of a tenant or not
    description: str = ""
    not_found: str | None = None  # a 404 besides the path's own id (an id named in the body or query)
    conflict: str | None = None
    gone: str | None = None
    unprocessable: str | None = None  # a 422 besides the body's own validation
    forbidden: str | None = None  # a 403 besides membership and role

    @property
    def tag(self) -> str:
        return TAG_OF_SEGMENT[self.path.split("/")[2]]

    @property
    def takes_idempotency_key(self) -> bool:
        return self.method == "post" and self.idempotent_post


OPENAPI_PATH = "/v1/openapi.json"
# The routes that describe the API rather than being part of it: readable without a token, not in the document.
DESCRIBING_ROUTES = frozenset({OPENAPI_PATH, DOCS_PATH, *ASSET_PATHS})
CONVERSATION = ("conversation_id",)
SERVICE_ITEM = ("service_item_id",)
RESOURCE = ("resource_id",)
HOLD = ("hold_id",)
APPOINTMENT = ("appointment_id",)
SLOT_TAKEN = "`slot_unavailable`: the slot is taken, outside working hours or too soon; `alternatives` are near it"
LIVE_ONLY = "the conversation is not in a state that allows this (`conflict`)"
PROVIDER_FIELDS = "the body names a field only the carrier sets (`status`, `provider_status`, …)"
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get",
        "/v1/me",
        "Who is calling, their role and tenant",
        out.Me,
        description="The caller's own profile as their token states it, the tenant this request acts for, and"
        " every membership they have (to choose among with `X-Tenant-Id`).",
    ),
    Operation(
        "get",
        "/v1/conversations",
        "List conversations, newest first, with filters and cursor pagination",
        out.ConversationPage,
        query=(
            ("state", {"type": "string", "enum": ["open", "human", "closed", "blocked"]}),
            ("caller", {"type": "string", "description": "the caller's number, E.164"}),
            ("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}),
            ("cursor", {"type": "string", "description": "`next_cursor` of the previous page"}),
        ),
        description="Keyset-paginated on (opened_at, id): pages never skip or repeat while rows change. A cursor"
        " this API did not issue is 400 `bad_cursor`.",
    ),
    Operation(
        "get",
        "/v1/conversations/{conversation_id}",
        "A conversation with its messages",
        out.ConversationDetail,
        path_params=CONVERSATION,
        description="Messages oldest first, each with its delivery status and the send preflight's verdict.",
    ),
    Operation(
        "post",
        "/v1/conversations/{conversation_id}/takeover",
        "Take over (a renewable lease)",
        out.Conversation,
        body=r.TakeoverBody,
        path_params=CONVERSATION,
        conflict="closed or blocked, or held by another operator",
        description="The conversation goes to `human` for `lease_minutes`; the AI stops answering. The same"
        " operator may renew the lease; another must wait it out.",
    ),
    Operation(
        "post",
        "/v1/conversations/{conversation_id}/reply",
        "Reply as a human (goes through the send preflight)",
        out.Message,
        body=r.ReplyBody,
        status=202,
        path_params=CONVERSATION,
        conflict="not taken over (`conflict`), or the tenant has no number (`no_number`)",
        description="Writes the outbound message (`pending`) and asks for it to be sent; the sender runs the"
        " preflight (opt-out, quiet hours, 10DLC), so the message may end `blocked`.",
    ),
    Operation(
        "post",
        "/v1/conversations/{conversation_id}/release",
        "Release the conversation to the AI",
        out.Conversation,
        body=r.Empty,
        path_params=CONVERSATION,
        conflict="not with a human",
        description="Back to `open`: the AI answers the caller's next text.",
    ),
    Operation(
        "post",
        "/v1/conversations/{conversation_id}/close",
        "Close the conversation",
        out.Conversation,
        body=r.CloseBody,
        path_params=CONVERSATION,
        conflict="already closed or blocked",
        description="The caller's next text opens a new conversation.",
    ),
    Operation(
        "get",
        "/v1/tasks",
        "Operator tasks",
        out.OperatorTaskList,
        query=(("status", {"type": "string", "enum": ["open", "done", "all"], "default": "open"}),),
        description="What needs a person: a booking to confirm, a caller who asked for someone, … (at most 500).",
    ),
    Operation(
        "post",
        "/v1/tasks/{task_id}/done",
        "Mark an operator task done",
        out.OperatorTask,
        body=r.Empty,
        path_params=("task_id",),
        description="Done twice is still done.",
    ),
    Operation(
        "get",
        "/v1/compliance",
        "10DLC brand and campaign status, and whether SMS may leave",
        out.Compliance,
        description="Until the campaign is approved, calls are still recorded and conversations opened, but no SMS"
        " leaves (`blocked_reason`).",
    ),
    Operation(
        "post",
        "/v1/compliance/campaign",
        "Submit the 10DLC campaign details for review",
        out.Compliance,
        owner_only=True,
        body=r.CampaignBody,
        forbidden=PROVIDER_FIELDS,
        description="Changed details make the campaign `pending`; the status itself is the carrier's, read from the"
        " provider, and naming it is 403.",
    ),
    Operation(
        "post",
        "/v1/compliance/brand",
        "Create or update the 10DLC brand",
        out.Compliance,
        owner_only=True,
        body=r.BrandBody,
        forbidden=PROVIDER_FIELDS,
        description="A changed brand is reviewed again: the campaign becomes `pending`.",
    ),
    Operation(
        "get",
        "/v1/users",
        "Members of the tenant and their roles",
        out.MemberList,
        owner_only=True,
        description="Members are made only by invitation (`POST /v1/invitations`).",
    ),
    Operation(
        "patch",
        "/v1/users/{user_id}",
        "Change a member's role",
        out.Member,
        owner_only=True,
        body=r.RoleBody,
        path_params=("user_id",),
        idempotent_post=False,
        conflict="the change would leave the tenant without an OWNER",
        description="The same role twice changes nothing.",
    ),
    Operation(
        "delete",
        "/v1/users/{user_id}",
        "Remove a member",
        owner_only=True,
        status=204,
        path_params=("user_id",),
        idempotent_post=False,
        conflict="the member is the tenant's last OWNER",
        description="Their membership ends; their user and what they did stay.",
    ),
    Operation(
        "get",
        "/v1/invitations",
        "Open invitations (pending or expired), never their tokens",
        out.InvitationList,
        owner_only=True,
        description="Tokens are stored hashed; only the response that issued one shows it.",
    ),
    Operation(
        "post",
        "/v1/invitations",
        "Invite an email address with a role",
        out.IssuedInvitation,
        owner_only=True,
        body=i.InvitationBody,
        status=201,
        idempotent_post=False,
        conflict="the address is already a member, or was invited by another request at the same moment",
        unprocessable="the email address is not one",
        description="The token is in this response only (never stored in the clear, so no `Idempotency-Key`)."
        " Inviting the address again is a resend: a new token, and the previous one stops working.",
    ),
    Operation(
        "delete",
        "/v1/invitations/{invitation_id}",
        "Revoke an open invitation",
        owner_only=True,
        status=204,
        path_params=("invitation_id",),
        idempotent_post=False,
        conflict="already accepted",
        description="Its token stops working at once.",
    ),
    Operation(
        "post",
        "/v1/invitations/accept",
        "Accept an invitation as the signed-in user",
        out.Acceptance,
        body=i.AcceptBody,
        idempotent_post=False,
        tenant_scoped=False,
        not_found="no invitation has this token",
        conflict="the invitation was already accepted, or the user is already a member",
        gone="the invitation was revoked or has expired",
        forbidden="the token carries no verified email, or not the invited address",
        description="Any signed-in user, member of a tenant or not: the token's verified `email` must be the"
        " invited address. The new membership is the default one if the user had none.",
    ),
    Operation(
        "get",
        "/v1/settings/calls",
        "The callback grace period of the first SMS",
        out.CallSettings,
        description="0 sends the first SMS at once; otherwise it waits that many seconds and is not sent if the"
        " caller's re-call is answered or staff call back through the business's Twilio number first.",
    ),
    Operation(
        "patch",
        "/v1/settings/calls",
        "Change the callback grace period",
        out.CallSettings,
        owner_only=True,
        body=r.CallSettingsBody,
        idempotent_post=False,
        description="0 to 120 seconds; the next missed call uses it. Calls from a member's own cell phone never"
        " reach Twilio, so they cannot withhold the SMS.",
    ),
    Operation(
        "get",
        "/v1/feature-gates",
        "The tenant's feature gates and subscription state",
        out.FeatureGates,
        description="`past_due` keeps the plan's gates open until `grace_ends_at`.",
    ),
    Operation(
        "get",
        "/v1/settings/lifecycle",
        "The tenant's reminder offsets, follow-up delay and first-SMS quiet-hours choice",
        out.LifecycleSettings,
        description="Reminders go at each offset before an appointment's current start; `follow_up_delay_minutes` "
        "null means no follow-up; `first_sms_quiet_hours` `send` (default) sends the first SMS after a call at once.",
    ),
    Operation(
        "patch",
        "/v1/settings/lifecycle",
        "Change the lifecycle settings",
        out.LifecycleSettings,
        body=lifecycle_settings.LifecycleSettingsPatch,
        owner_only=True,
        idempotent_post=False,
        description="Only what is given changes. Offsets: 5-10080 minutes, at most 4, each once; follow-up: 15-10080 "
        "minutes or null (off). A wrong value is a 422 naming the field.",
    ),
    Operation(
        "get",
        "/v1/billing/subscription",
        "The tenant's Stripe subscription",
        out.SubscriptionState,
        owner_only=True,
        description="As the last Stripe event left it; null before the first one.",
    ),
    Operation(
        "get",
        "/v1/service-items",
        "The catalog: service items with duration, price, aliases and active flag",
        out.ServiceItemList,
        query=(("active", {"type": "boolean"}),),
        description="`active=true` or `false` filters; without it, every item.",
    ),
    Operation(
        "post",
        "/v1/service-items",
        "Create a service item",
        out.ServiceItem,
        body=c.ServiceItemBody,
        status=201,
        conflict="another item has this name (`duplicate_name`) or one of these aliases (`duplicate_alias`)",
        description="Names and aliases are unique in the tenant.",
    ),
    Operation(
        "get",
        "/v1/service-items/match",
        "Active service items a caller's words would match, with confidence",
        out.ServiceMatchList,
        query=(
            ("text", {"type": "string", "maxLength": 500}),
            ("limit", {"type": "integer", "minimum": 1, "maximum": 10, "default": 3}),
        ),
        description="The matcher the AI uses, over names and aliases, best first.",
    ),
    Operation(
        "get",
        "/v1/service-items/{service_item_id}",
        "One service item",
        out.ServiceItem,
        path_params=SERVICE_ITEM,
        description="Active or not.",
    ),
    Operation(
        "patch",
        "/v1/service-items/{service_item_id}",
        "Change a service item",
        out.ServiceItem,
        body=c.ServiceItemPatch,
        path_params=SERVICE_ITEM,
        idempotent_post=False,
        conflict="another item has this name (`duplicate_name`) or one of these aliases (`duplicate_alias`)",
        description="Only what is given changes; `aliases` replaces the whole list.",
    ),
    Operation(
        "delete",
        "/v1/service-items/{service_item_id}",
        "Deactivate a service item",
        out.ServiceItem,
        path_params=SERVICE_ITEM,
        idempotent_post=False,
        description="The item stays (appointments and reports still name it), no longer quoted, matched or"
        " bookable; the answer is the item with `active: false`.",
    ),
    Operation(
        "get",
        "/v1/resources",
        "Resources with their services and weekly working hours",
        sout.ResourceList,
        description="A resource is whoever or whatever does the work: a technician, a van, a bay.",
    ),
    Operation(
        "post",
        "/v1/resources",
        "Create a resource (optionally with services and hours)",
        sout.Resource,
        body=s.ResourceBody,
        status=201,
        unprocessable="a `service_item_ids` entry is not the tenant's",
        description="Working hours are local wall times in the resource's `timezone`.",
    ),
    Operation(
        "get",
        "/v1/resources/{resource_id}",
        "A resource with hours, services and time off",
        sout.ResourceDetail,
        path_params=RESOURCE,
        description="Its own time off only; business-wide days off are in `GET /v1/time-off`.",
    ),
    Operation(
        "put",
        "/v1/resources/{resource_id}/working-hours",
        "Replace the resource's weekly hours",
        sout.Resource,
        body=s.WorkingHoursBody,
        path_params=RESOURCE,
        idempotent_post=False,
        description="Local time in the resource's zone; shifts on one weekday must not overlap. The same body gives"
        " the same hours.",
    ),
    Operation(
        "put",
        "/v1/resources/{resource_id}/services",
        "Replace which service items the resource can do",
        sout.Resource,
        body=s.ResourceServicesBody,
        path_params=RESOURCE,
        idempotent_post=False,
        unprocessable="a `service_item_ids` entry is not the tenant's",
        description="An empty list makes the resource a generalist: it can do every service.",
    ),
    Operation(
        "get",
        "/v1/time-off",
        "Days off and holidays",
        sout.TimeOffList,
        query=(("resource_id", {"type": "string", "format": "uuid"}),),
        description="`resource_id` filters; business-wide entries are always included.",
    ),
    Operation(
        "post",
        "/v1/time-off",
        "Add days off (a resource's, or the whole business's)",
        sout.TimeOff,
        body=s.TimeOffBody,
        status=201,
        not_found="`resource_id` is not the tenant's",
        description="Inclusive local dates; without `resource_id` the whole business is closed.",
    ),
    Operation(
        "get",
        "/v1/availability",
        "Open slots for an active service over a window, with an optional preference",
        sout.Availability,
        query=(
            ("service_item_id", {"type": "string", "format": "uuid"}),
            ("from", {"type": "string", "format": "date-time", "description": "default: now"}),
            ("to", {"type": "string", "format": "date-time", "description": "default: `from` + 7 days; at most 31"}),
            ("preference", {"type": "string", "maxLength": 200, "examples": ["mornings", "after 3pm", "thursday"]}),
            ("after", {"type": "string", "examples": ["15:00"]}),
            ("before", {"type": "string", "examples": ["12:00"]}),
            ("weekday", {"type": "string", "examples": ["thursday"]}),
            ("resource_id", {"type": "string", "format": "uuid"}),
            ("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}),
        ),
        required_query=("service_item_id",),
        not_found="the service item is not active in this tenant, or `resource_id` is not the tenant's",
        description="Earliest first, across the resources that can do the service (or one, with `resource_id`)."
        " Explicit `after`/`before`/`weekday` win over the `preference` words.",
    ),
    Operation(
        "post",
        "/v1/holds",
        "Hold a slot for the Hold TTL",
        sout.Hold,
        body=s.HoldBody,
        status=201,
        not_found="the service item (active), the resource or the conversation is not the tenant's",
        conflict=SLOT_TAKEN,
        unprocessable="`starts_at` is past or beyond the booking horizon",
        description="The slot is the service item's catalog duration from `starts_at`; nobody else can hold or"
        " book it until the hold expires, is confirmed or released.",
    ),
    Operation(
        "post",
        "/v1/holds/{hold_id}/confirm",
        "Turn a hold into an appointment at the catalog price",
        sout.Appointment,
        body=s.ConfirmBody,
        status=201,
        path_params=HOLD,
        conflict=SLOT_TAKEN + "; or the held service item no longer exists (`conflict`)",
        unprocessable="the hold has no `customer_phone` and the body gives none",
        description="The hold's slot becomes the appointment's, priced from the catalog now.",
    ),
    Operation(
        "post",
        "/v1/holds/{hold_id}/release",
        "Give a hold up early",
        sout.Hold,
        body=s.ReleaseBody,
        path_params=HOLD,
        description="Releasing a hold that is no longer active changes nothing.",
    ),
    Operation(
        "get",
        "/v1/appointments",
        "Appointments by start time",
        sout.AppointmentList,
        query=(
            ("status", {"type": "string", "enum": ["booked", "cancelled"]}),
            ("from", {"type": "string", "format": "date-time"}),
            ("to", {"type": "string", "format": "date-time"}),
            ("customer_phone", {"type": "string"}),
            ("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
        ),
        description="Those that end after `from` and start before `to`.",
    ),
    Operation(
        "post",
        "/v1/appointments",
        "Book a slot at the catalog price",
        sout.Appointment,
        body=s.BookBody,
        status=201,
        not_found="the service item (active), the resource or the conversation is not the tenant's",
        conflict=SLOT_TAKEN,
        unprocessable="`starts_at` is past or beyond the booking horizon",
        description="The same checks as a hold, booked in one step.",
    ),
    Operation(
        "get",
        "/v1/appointments/{appointment_id}",
        "One appointment",
        sout.Appointment,
        path_params=APPOINTMENT,
        description="Booked or cancelled.",
    ),
    Operation(
        "post",
        "/v1/appointments/{appointment_id}/cancel",
        "Cancel an appointment",
        sout.Appointment,
        body=s.CancelBody,
        path_params=APPOINTMENT,
        conflict="the appointment is not booked (`not_booked`)",
        description="Cancelling twice changes nothing; the slot is free again.",
    ),
    Operation(
        "post",
        "/v1/appointments/{appointment_id}/reschedule",
        "Move an appointment",
        sout.Appointment,
        body=s.RescheduleBody,
        path_params=APPOINTMENT,
        not_found="`resource_id` is not the tenant's",
        conflict=SLOT_TAKEN + "; or the appointment is cancelled (`not_booked`)",
        unprocessable="`starts_at` is past or beyond the booking horizon",
        description="Same duration, new start (and optionally another resource); the old slot is freed in the same"
        " transaction.",
    ),
    Operation(
        "get",
        "/v1/reports",
        "Per-day missed calls, first-response P50/P95, bookings and recovered revenue, with totals",
        out.Report,
        query=(
            ("days", {"type": "integer", "minimum": 1, "maximum": 400, "default": 7}),
            ("to", {"type": "string", "format": "date", "description": "the last UTC day; default today"}),
        ),
        description="Oldest first, zeros where nothing happened; `totals` has P50/P95 over every sample in the"
        " window, not an average of daily percentiles.",
    ),
)


def _operation_id(op: Operation) -> str:
    """``getConversations``, ``postConversationsConversationIdTakeover``: stable, one per method and path."""
    words = [part.strip("{}") for part in op.path.split("/")[2:]]
    pieces = [piece for word in words for piece in word.replace("-", "_").split("_")]
    return op.method + "".join(piece.capitalize() for piece in pieces)


TENANT_HEADER = {
    "name": "X-Tenant-Id",
    "in": "header",
    "required": False,
    "description": "Which tenant to act for (or the token's Clerk organization, if linked to one); without either,"
    " a member of several tenants acts for their default (first) one.",
    "schema": {"type": "string", "format": "uuid"},
}
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Same key and body: the stored response again (header `Idempotent-Replayed: true`). Same key,"
    " another body: 422 `idempotency_key_reused`. Keys are kept 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
REQUEST_ID_HEADER = {
    "name": "X-Request-Id",
    "in": "header",
    "required": False,
    "description": "A UUID to correlate this request with the events it causes (echoed back; else one is minted).",
    "schema": {"type": "string", "format": "uuid"},
}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        for name in op.path_params
    ]
    parameters += [
        {"name": name, "in": "query", "required": name in op.required_query, "schema": schema}
        for name, schema in op.query
    ]
    if op.tenant_scoped:
        parameters.append(TENANT_HEADER)
    if op.takes_idempotency_key:
        parameters.append(IDEMPOTENCY_HEADER)
    parameters.append(REQUEST_ID_HEADER)
    return parameters


def _responses(op: Operation) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "success"}
    if op.response is not None:
        success["content"] = {"application/json": {"schema": {"$ref": _ref(op.response)}}}
    responses: dict[str, Any] = {str(op.status): success}
    bad_request = []
    if op.tenant_scoped:
        bad_request.append("`X-Tenant-Id` malformed, disagreeing with the token's organization, or needed")
    if op.body is not None:
        bad_request.append("the body is not a JSON object")
    if op.query:
        bad_request.append("a query parameter is malformed or out of range")
    if op.takes_idempotency_key:
        bad_request.append("`Idempotency-Key` is not 1-255 characters")
    if bad_request:
        responses["400"] = _error("; ".join(bad_request))
    responses["401"] = _error("missing, invalid or expired token")
    forbidden = ["not a member of the tenant"] if op.tenant_scoped else []
    if op.owner_only:
        forbidden.append("the OWNER role is needed")
    if op.forbidden:
        forbidden.append(op.forbidden)
    responses["403"] = _error("; ".join(forbidden))
    not_found = ["no such id in this tenant"] if op.path_params else []
    if op.not_found:
        not_found.append(op.not_found)
    if not_found:
        responses["404"] = _error("; ".join(not_found))
    if op.conflict:
        responses["409"] = _error(op.conflict)
    if op.gone:
        responses["410"] = _error(op.gone)
    if op.body is not None:
        responses["413"] = _error("the body is larger than the ingress accepts (`MAX_BODY_BYTES`)")
    unprocessable = ["the body does not validate (`validation_failed`, naming the first bad field)"] if op.body else []
    if op.takes_idempotency_key:
        unprocessable.append("the `Idempotency-Key` was used with another request")
    if op.unprocessable:
        unprocessable.append(op.unprocessable)
    if unprocessable:
        responses["422"] = _error("; ".join(unprocessable))
    return dict(sorted(responses.items()))


def _description(op: Operation) -> str:
    who = "OWNER only." if op.owner_only else "OWNER and TECH." if op.tenant_scoped else "Any signed-in user."
    idempotent = " Honours `Idempotency-Key`." if op.takes_idempotency_key else ""
    return f"{op.description}\n\n{who}{idempotent}".strip()


def _ref(model: type[BaseModel]) -> str:
    return f"#/components/schemas/{model.__name__}"


def _add_schema(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    # Nested models (Money, a shift, a slot) become components of their own, where the refs point.
    for name, nested in schema.pop("$defs", {}).items():
        _check_unique(schemas, name, nested)
    _check_unique(schemas, model.__name__, schema)


def _check_unique(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    # Two models of one name (a request Money and a response Money) would silently overwrite each other.
    if schemas.setdefault(name, schema) != schema:
        raise ValueError(f"two different schemas are both named {name}")


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    _add_schema(schemas, sout.Slot)  # the Error's alternatives
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        entry: dict[str, Any] = {
            "tags": [op.tag],
            "operationId": _operation_id(op),
            "summary": op.summary,
            "description": _description(op),
            "parameters": _parameters(op),
            "responses": _responses(op),
        }
        if op.response is not None:
            _add_schema(schemas, op.response)
        if op.body is not None:
            _add_schema(schemas, op.body)
            required = any(info.is_required() for info in op.body.model_fields.values())
            entry["requestBody"] = {
                "required": required,
                "description": "required" if required else "optional: without it, every field takes its default",
                "content": {"application/json": {"schema": {"$ref": _ref(op.body)}}},
            }
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "NeverMissCall operator API",
            "version": "1",
            "description": INFO,
        },
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "security": [{"clerk": []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "clerk": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Clerk session token (RS256), whose `azp` is one of CLERK_AUTHORIZED_PARTIES.",
                }
            },
        },
    }


INFO = """The API the staff use: conversations and takeover, tasks, team, compliance, catalog, scheduling and
bookings, reports. Every route needs a Clerk session token (`Authorization: Bearer …`) of a member of the tenant
(OWNER or TECH); another tenant's ids are simply not found (404).

Errors all have one shape, `{"error": {"code": "...", "message": "..."}}`: switch on `code`. POSTs that change
state honour `Idempotency-Key`. Browsers on the origins in CLERK_AUTHORIZED_PARTIES may call it cross-origin (CORS,
with the bearer token, no cookies)."""


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


class OpenApiResource:
    """GET /v1/openapi.json, readable without a token: the document is built from code alone (no settings, no
    tenant data), so it tells nothing a reader of the source would not know."""

    def __init__(self) -> None:
        self._document = document()

    def on_get(self, req: Any, resp: Any) -> None:
        resp.media = self._document
