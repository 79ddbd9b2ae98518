"""Staff by SMS: a member's text to the business number is a command about an alerted conversation, never a caller.

The commands (``staff_commands.py`` reads them) run the operator's own use cases (``operator.take_over``,
``reply_as_human``, ``release``) in the handler's transaction, with the handler as their event sink, so each effect
is the same event the API would emit, caused by the member's text. Who may do what:

- ``TAKE``: OWNER and TECH, as in the API; an unexpired lease of another member is never taken (the UPDATE decides).
- ``<text>``: only the member who holds the conversation, while the lease lasts (the same UPDATE that writes the
  reply checks it), so nothing reaches a caller from a member who did not take the conversation over.
- ``BACK``: the member who holds it, or any OWNER (an owner may hand back a conversation a TECH left).

Every text gets an answer, except a text that went to the caller (the caller's delivery is the answer).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from db.settings import Settings
from domain.conversations import operator
from domain.conversations.flows.common import queue_outbound
from domain.conversations.ports import StaffMember, TenantProfile
from domain.conversations.staff_commands import StaffCommand, parse_staff_command
from domain.conversations.store import AlertTarget, ConversationStore, PostgresConversationStore
from domain.events.catalog import MessageReceived, StaffCommandReceived
from domain.events.handling import HandlerContext

HELP_TEXT = (
    "Staff commands: K47 TAKE takes the conversation of alert K47 over, K47 <your text> texts the caller "
    "(after TAKE), K47 BACK hands it back to the AI. With one alert open, leave out the code. STOP ends all texts."
)
MAX_LISTED = 3


def answer_staff(
    event: MessageReceived,
    ctx: HandlerContext,
    store: ConversationStore,
    *,
    tenant: TenantProfile,
    member: StaffMember,
    kind: str,
    settings: Settings,
    now: datetime,
) -> None:
    """Run the member's command and text them the answer; ``StaffCommandReceived`` records what came of it."""
    assert ctx.tenant_id is not None
    if kind == "help":
        command = StaffCommand("help")
    elif kind == "unclear_opt_out":
        command = StaffCommand("unknown", None, event.body)  # maybe "stop texting me": never forwarded, never guessed
    else:
        command = parse_staff_command(event.body)
    outcome, target, answer = _run(ctx, command, tenant=tenant, member=member, settings=settings)
    ctx.emit(
        StaffCommandReceived(
            phone=member.phone,
            user_id=member.user_id,
            command=command.verb,
            code=target.code if target else command.code,
            conversation_id=target.conversation_id if target else None,
            outcome=outcome,  # type: ignore[arg-type]
        )
    )
    if answer is not None:
        queue_outbound(
            ctx,
            store,
            conversation_id=None,
            to_number=member.phone,
            from_number=tenant.number,
            body=answer,
            purpose="compliance" if command.verb == "help" else "notification",
        )


def _run(
    ctx: HandlerContext, command: StaffCommand, *, tenant: TenantProfile, member: StaffMember, settings: Settings
) -> tuple[str, AlertTarget | None, str | None]:
    """(outcome, the alert acted on, the answer to text back or None)."""
    if command.verb == "help":
        return "answered", None, HELP_TEXT
    if command.verb == "unknown":
        said = " ".join(command.text.split())[:40]
        if not said and command.code:
            code = command.code
            return "refused", None, f"{code} what? Reply {code} TAKE, {code} <text> or {code} BACK (HELP for more)."
        return "refused", None, f'Sorry, "{said}" is not a command. Reply HELP for the commands.'
    alerts = PostgresConversationStore(ctx.session).open_alerts(
        tenant_id=tenant.id, code=command.code, limit=MAX_LISTED + 1
    )
    if command.code is not None and not alerts:
        return "refused", None, f"There is no open alert {command.code}. Nothing was done."
    if not alerts:
        return "refused", None, "There is no open alert right now. Nothing was done. Reply HELP for the commands."
    if len(alerts) > 1:
        listed = ", ".join(f"{alert.code} ({alert.caller})" for alert in alerts[:MAX_LISTED])
        more = " and more" if len(alerts) > MAX_LISTED else ""
        return (
            "refused",
            None,
            f"Several alerts are open: {listed}{more}. Start with the code, e.g. {alerts[0].code} TAKE.",
        )
    target = alerts[0]
    holder = member.holder_id(tenant.id)
    if command.verb == "take":
        return _take(ctx, target, holder=holder, member=member, minutes=settings.human_lease_minutes)
    if command.verb == "back":
        return _back(ctx, target, holder=None if member.role == "OWNER" else holder)
    return _text(ctx, target, holder=holder, body=command.text, number=tenant.number)


def _take(
    ctx: HandlerContext, target: AlertTarget, *, holder: uuid.UUID, member: StaffMember, minutes: int
) -> tuple[str, AlertTarget | None, str | None]:
    assert ctx.tenant_id is not None
    try:
        operator.take_over(
            ctx.session,
            tenant_id=ctx.tenant_id,
            conversation_id=target.conversation_id,
            user_id=holder,
            reason=f"taken over by SMS from {member.phone}",
            lease=timedelta(minutes=minutes),
            events=ctx,
        )
    except operator.OperatorError:
        return "refused", target, f"{target.code} ({target.caller}) is already with another member. Nothing was done."
    return (
        "done",
        target,
        f"You have {target.code} ({target.caller}) for {minutes} min. Reply {target.code} <text> to text them,"
        f" {target.code} BACK to hand back to the AI.",
    )


def _text(
    ctx: HandlerContext, target: AlertTarget, *, holder: uuid.UUID, body: str, number: str
) -> tuple[str, AlertTarget | None, str | None]:
    assert ctx.tenant_id is not None
    try:
        operator.reply_as_human(
            ctx.session,
            tenant_id=ctx.tenant_id,
            conversation_id=target.conversation_id,
            user_id=holder,
            body=body,
            from_number=number,
            events=ctx,
            holder=holder,
        )
    except operator.OperatorError:
        if target.state == "human" and target.human_user_id not in (None, holder):
            why = "is with another member"
        elif target.human_user_id == holder:
            why = f"is no longer yours (the lease lapsed): reply {target.code} TAKE again"
        else:
            why = f"is not yours yet: reply {target.code} TAKE first"
        return "refused", target, f"{target.code} ({target.caller}) {why}. Your text was not sent."
    return "done", target, None


def _back(
    ctx: HandlerContext, target: AlertTarget, *, holder: uuid.UUID | None
) -> tuple[str, AlertTarget | None, str | None]:
    assert ctx.tenant_id is not None
    try:
        operator.release(
            ctx.session, tenant_id=ctx.tenant_id, conversation_id=target.conversation_id, events=ctx, holder=holder
        )
    except operator.OperatorError:
        if target.state == "open":
            return "refused", target, f"{target.code} ({target.caller}) is already with the AI."
        return (
            "refused",
            target,
            f"Only the member who took {target.code} over, or an OWNER, can hand it back. Nothing was done.",
        )
    return "done", target, f"{target.code} ({target.caller}) is back with the AI."
