"""Compliance reacts to new tenants (a pending campaign) and to inbound keywords (opt-out / opt-in records).

Blocking the conversation, the single STOP confirmation and the HELP answer belong to conversations, which reacts
to ``OptOutRecorded`` and calls ``classify_inbound`` itself; here only the compliance facts are recorded. A clear
request in words ("please stop texting me") is recorded like a keyword (source ``keyword``), with the normalised
phrase as its keyword; an unclear one records nothing (a person decides).
"""

from __future__ import annotations

from domain.compliance import service
from domain.compliance.keywords import match_inbound
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
    match = match_inbound(event.body)
    if match.keyword is None:
        return
    keyword = match.keyword
    if match.kind == "opt_out":
        service.record_opt_out(
            ctx.session,
            tenant_id=ctx.tenant_id,
            phone=event.from_number,
            source="keyword",
            keyword=keyword,
            message_ref=event.message_sid,
            events=ctx,
        )
    elif match.kind == "opt_in":
        service.record_opt_in(
            ctx.session, tenant_id=ctx.tenant_id, phone=event.from_number, keyword=keyword, events=ctx
        )
