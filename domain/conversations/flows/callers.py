"""Caller ID's name for a caller (Twilio's ``CallerName`` on an incoming call), recorded unless staff named them."""

from __future__ import annotations

from domain.conversations.flows.common import subscriptions
from domain.conversations.store import StoreFactory
from domain.events.catalog import CallerNamed
from domain.events.handling import HandlerContext


@subscriptions.on(CallerNamed, db_only=True)
def record_caller_name(event: CallerNamed, ctx: HandlerContext, *, conversation_store: StoreFactory) -> None:
    """A name staff typed was recorded by the use case that raised the event (the thread shows it at once); caller
    ID's is recorded here, and the store's one statement keeps a name staff gave, whichever commits first."""
    if event.source != "caller_id" or ctx.tenant_id is None:
        return
    conversation_store(ctx.session).name_caller(
        tenant_id=ctx.tenant_id, caller=event.phone, name=event.caller_name, source="caller_id", named_by=None
    )
