"""Compliance reacts to new tenants (a pending campaign) and to inbound keywords (opt-out / opt-in records).

Blocking the conversation, the single STOP confirmation and the HELP answer belong to conversations, which reacts
to ``OptOutRecorded`` and calls ``classify_inbound`` itself; here only the compliance facts are recorded.
"""

from __future__ import annotations

from domain.compliance import service
from domain.compliance.keywords import classify_inbound, normalise_keyword
from domain.events.catalog import MessageReceived, TenantCreated
from domain.events.handling import HandlerContext, Subscriptions

subscriptions = Subscriptions("compliance")


@subscriptions.on(TenantCreated, db_only=True)
def open_pending_campaign(event: TenantCreated, ctx: HandlerContext) -> None:
    if ctx.tenant_id is not None:
        service.ensure_campaign(ctx.session, tenant_id=ctx.tenant_id)


@subscriptions.on(MessageReceived, db_only=True)
def record_keyword(event: MessageReceived, ctx: HandlerContext) -> None:
    if ctx.tenant_id is None:
        return
    kind = classify_inbound(event.body)
    keyword = normalise_keyword(event.body)
    if kind == "opt_out":
        service.record_opt_out(
            ctx.session,
            tenant_id=ctx.tenant_id,
            phone=event.from_number,
            source="keyword",
            keyword=keyword,
            message_ref=event.message_sid,
            cause=ctx.envelope,
        )
    elif kind == "opt_in":
        service.record_opt_in(
            ctx.session, tenant_id=ctx.tenant_id, phone=event.from_number, keyword=keyword, cause=ctx.envelope
        )
