"""The /v1 OpenAPI document, built from the same pydantic models the resources validate with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ingress.api import catalog as c
from ingress.api import invitations as i
from ingress.api import resources as r
from ingress.api import scheduling as s

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    owner_only: bool = False
    body: type[BaseModel] | None = None
    status: int = 200
    query: tuple[tuple[str, dict[str, Any]], ...] = ()
    path_params: tuple[str, ...] = field(default=())
    idempotent_post: bool = True
    tenant_scoped: bool = True  # False: any signed-in user, member of a tenant or not


CONVERSATION = ("conversation_id",)
SERVICE_ITEM = ("service_item_id",)
RESOURCE = ("resource_id",)
HOLD = ("hold_id",)
APPOINTMENT = ("appointment_id",)
OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/v1/me", "Who is calling, their role and tenant"),
    Operation(
        "get",
        "/v1/conversations",
        "List conversations, newest first, with filters and cursor pagination",
        query=(
            ("state", {"type": "string", "enum": ["open", "human", "closed", "blocked"]}),
            ("caller", {"type": "string"}),
            ("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
            ("cursor", {"type": "string"}),
        ),
    ),
    Operation(
        "get", "/v1/conversations/{conversation_id}", "A conversation with its messages", path_params=CONVERSATION
    ),
    Operation(
        "post",
        "/v1/conversations/{conversation_id}/takeover",
        "Take over (a renewable lease)",
        body=r.TakeoverBody,
        path_params=CONVERSATION,
    ),
    Operation(
        "post",
        "/v1/conversations/{conversation_id}/reply",
        "Reply as a human (goes through the send preflight)",
        body=r.ReplyBody,
        status=202,
        path_params=CONVERSATION,
    ),
    Operation(
        "post",
        "/v1/conversations/{conversation_id}/release",
        "Release the conversation to the AI",
        body=r.Empty,
        path_params=CONVERSATION,
    ),
    Operation(
        "post",
        "/v1/conversations/{conversation_id}/close",
        "Close the conversation",
        body=r.CloseBody,
        path_params=CONVERSATION,
    ),
    Operation(
        "get", "/v1/tasks", "Operator tasks", query=(("status", {"type": "string", "enum": ["open", "done", "all"]}),)
    ),
    Operation("post", "/v1/tasks/{task_id}/done", "Mark an operator task done", body=r.Empty, path_params=("task_id",)),
    Operation("get", "/v1/compliance", "10DLC brand and campaign status, and whether SMS may leave"),
    Operation(
        "post",
        "/v1/compliance/campaign",
        "Submit the 10DLC campaign details for review (changed details: pending; the status itself is the"
        " carrier's, and naming it is 403)",
        owner_only=True,
        body=r.CampaignBody,
    ),
    Operation(
        "post",
        "/v1/compliance/brand",
        "Create or update the 10DLC brand (a changed brand is reviewed again: pending)",
        owner_only=True,
        body=r.BrandBody,
    ),
    Operation("get", "/v1/users", "Members of the tenant and their roles", owner_only=True),
    Operation(
        "patch",
        "/v1/users/{user_id}",
        "Change a member's role",
        owner_only=True,
        body=r.RoleBody,
        path_params=("user_id",),
        idempotent_post=False,
    ),
    Operation(
        "delete",
        "/v1/users/{user_id}",
        "Remove a member",
        owner_only=True,
        status=204,
        path_params=("user_id",),
        idempotent_post=False,
    ),
    Operation("get", "/v1/invitations", "Open invitations (pending or expired), never their tokens", owner_only=True),
    Operation(
        "post",
        "/v1/invitations",
        "Invite an email address with a role; the token is in this response only (again: a resend)",
        owner_only=True,
        body=i.InvitationBody,
        status=201,
        idempotent_post=False,
    ),
    Operation(
        "delete",
        "/v1/invitations/{invitation_id}",
        "Revoke an open invitation",
        owner_only=True,
        status=204,
        path_params=("invitation_id",),
        idempotent_post=False,
    ),
    Operation(
        "post",
        "/v1/invitations/accept",
        "Accept an invitation as the signed-in user; the token's verified email must be the invited one",
        body=i.AcceptBody,
        idempotent_post=False,
        tenant_scoped=False,
    ),
    Operation("get", "/v1/feature-gates", "The tenant's feature gates and subscription state"),
    Operation("get", "/v1/billing/subscription", "The tenant's Stripe subscription", owner_only=True),
    # Catalog and scheduling: OWNER and TECH alike (TECH operates scheduling).
    Operation(
        "get",
        "/v1/service-items",
        "The catalog: service items with duration, price, aliases and active flag",
        query=(("active", {"type": "boolean"}),),
    ),
    Operation("post", "/v1/service-items", "Create a service item", body=c.ServiceItemBody, status=201),
    Operation(
        "get",
        "/v1/service-items/match",
        "Active service items a caller's words would match, with confidence",
        query=(
            ("text", {"type": "string", "maxLength": 500}),
            ("limit", {"type": "integer", "minimum": 1, "maximum": 10}),
        ),
    ),
    Operation("get", "/v1/service-items/{service_item_id}", "One service item", path_params=SERVICE_ITEM),
    Operation(
        "patch",
        "/v1/service-items/{service_item_id}",
        "Change a service item (aliases replace the list)",
        body=c.ServiceItemPatch,
        path_params=SERVICE_ITEM,
        idempotent_post=False,
    ),
    Operation(
        "delete",
        "/v1/service-items/{service_item_id}",
        "Deactivate a service item (it stays, no longer quoted or bookable)",
        path_params=SERVICE_ITEM,
        idempotent_post=False,
    ),
    Operation("get", "/v1/resources", "Resources with their services and weekly working hours"),
    Operation(
        "post",
        "/v1/resources",
        "Create a resource (optionally with services and hours)",
        body=s.ResourceBody,
        status=201,
    ),
    Operation(
        "get", "/v1/resources/{resource_id}", "A resource with hours, services and time off", path_params=RESOURCE
    ),
    Operation(
        "put",
        "/v1/resources/{resource_id}/working-hours",
        "Replace the resource's weekly hours (local time in its zone)",
        body=s.WorkingHoursBody,
        path_params=RESOURCE,
        idempotent_post=False,
    ),
    Operation(
        "put",
        "/v1/resources/{resource_id}/services",
        "Replace which service items the resource can do (none: every service)",
        body=s.ResourceServicesBody,
        path_params=RESOURCE,
        idempotent_post=False,
    ),
    Operation(
        "get",
        "/v1/time-off",
        "Days off and holidays",
        query=(("resource_id", {"type": "string", "format": "uuid"}),),
    ),
    Operation(
        "post", "/v1/time-off", "Add days off (a resource's, or the whole business's)", body=s.TimeOffBody, status=201
    ),
    Operation(
        "get",
        "/v1/availability",
        "Open slots for an active service over a window, with an optional preference",
        query=(
            ("service_item_id", {"type": "string", "format": "uuid"}),
            ("from", {"type": "string", "format": "date-time"}),
            ("to", {"type": "string", "format": "date-time"}),
            ("preference", {"type": "string", "maxLength": 200, "example": "mornings, after 3pm, thursday"}),
            ("after", {"type": "string", "example": "15:00"}),
            ("before", {"type": "string", "example": "12:00"}),
            ("weekday", {"type": "string", "example": "thursday"}),
            ("resource_id", {"type": "string", "format": "uuid"}),
            ("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
        ),
    ),
    Operation(
        "post",
        "/v1/holds",
        "Hold a slot for the Hold TTL (409 slot_unavailable with alternatives)",
        body=s.HoldBody,
        status=201,
    ),
    Operation(
        "post",
        "/v1/holds/{hold_id}/confirm",
        "Turn a hold into an appointment at the catalog price",
        body=s.ConfirmBody,
        status=201,
        path_params=HOLD,
    ),
    Operation("post", "/v1/holds/{hold_id}/release", "Give a hold up early", body=s.ReleaseBody, path_params=HOLD),
    Operation(
        "get",
        "/v1/appointments",
        "Appointments by start time",
        query=(
            ("status", {"type": "string", "enum": ["booked", "cancelled"]}),
            ("from", {"type": "string", "format": "date-time"}),
            ("to", {"type": "string", "format": "date-time"}),
            ("customer_phone", {"type": "string"}),
            ("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
        ),
    ),
    Operation(
        "post",
        "/v1/appointments",
        "Book a slot at the catalog price (409 slot_unavailable with alternatives)",
        body=s.BookBody,
        status=201,
    ),
    Operation("get", "/v1/appointments/{appointment_id}", "One appointment", path_params=APPOINTMENT),
    Operation(
        "post",
        "/v1/appointments/{appointment_id}/cancel",
        "Cancel an appointment (twice changes nothing)",
        body=s.CancelBody,
        path_params=APPOINTMENT,
    ),
    Operation(
        "post",
        "/v1/appointments/{appointment_id}/reschedule",
        "Move an appointment (409 slot_unavailable with alternatives)",
        body=s.RescheduleBody,
        path_params=APPOINTMENT,
    ),
    Operation(
        "get",
        "/v1/reports",
        "Per-day missed calls, first-response P50/P95, bookings and recovered revenue, with totals",
        query=(
            ("days", {"type": "integer", "minimum": 1, "maximum": 400}),
            ("to", {"type": "string", "format": "date"}),
        ),
    ),
)


def _operation_id(op: Operation) -> str:
    parts = [part.strip("{}") for part in op.path.split("/")[2:]]
    return op.method + "_" + "_".join(part.replace("-", "_") for part in parts)


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
            for name in op.path_params
        ]
        parameters += [{"name": name, "in": "query", "required": False, "schema": schema} for name, schema in op.query]
        if op.tenant_scoped:
            parameters.append(
                {
                    "name": "X-Tenant-Id",
                    "in": "header",
                    "required": False,
                    "description": "Which tenant to act for (or the token's Clerk organization, if linked to one);"
                    " without either, a member of several tenants acts for their default (first) one.",
                    "schema": {"type": "string", "format": "uuid"},
                }
            )
        if op.method == "post" and op.idempotent_post:
            parameters.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": (
                        "Same key and body: the stored response. Same key, other body: 422. Keys are kept 24 hours."
                    ),
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            )
        responses: dict[str, Any] = {
            str(op.status): {"description": "success"}
            if op.status == 204
            else {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}},
            "401": _error("missing, invalid or expired token"),
            "403": _error("not a member, or the role does not allow it"),
        }
        if op.path_params:
            responses["404"] = _error("no such resource in this tenant")
        if op.body is not None:
            responses["400"] = _error("the body is not a JSON object")
            responses["422"] = _error("the body does not validate, or the Idempotency-Key was reused")
        if op.method == "post":
            responses["409"] = _error("the resource is not in a state that allows this")
        if op.tenant_scoped:
            responses["400"] = _error("X-Tenant-Id malformed, disagreeing with the token's organization, or needed")
        else:
            responses["410"] = _error("revoked or expired")
        entry: dict[str, Any] = {
            "operationId": _operation_id(op),
            "summary": op.summary,
            "parameters": parameters,
            "responses": responses,
            "security": [{"clerk": []}],
        }
        if op.owner_only:
            entry["description"] = "Requires the OWNER role."
        if op.body is not None:
            name = op.body.__name__
            schema = op.body.model_json_schema(ref_template="#/components/schemas/{model}")
            # Nested models (Money, a shift) become components of their own, where the refs point.
            schemas.update(schema.pop("$defs", {}))
            schemas[name] = schema
            entry["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
            }
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.0.3",
        "info": {"title": "NeverMissCall operator API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"clerk": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


class OpenApiResource:
    def __init__(self) -> None:
        self._document = document()

    def on_get(self, req: Any, resp: Any) -> None:
        resp.media = self._document
