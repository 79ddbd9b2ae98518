"""The conversations store is the only application code that touches the conv_* tables, and its fake keeps up.

Grep-based on purpose: a statement on a conv_* table anywhere else (raw SQL or an ORM query on the conversation
models) is a second place the rules live, which is what the store exists to prevent.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from domain.conversations import handlers
from domain.conversations.store import STATEMENTS, ConversationStore, PostgresConversationStore
from tests.support.conversation_store import MemoryConversationStore

ROOT = Path(__file__).resolve().parents[2]
STORE = Path("domain/conversations/store.py")
# Application code; ops/ holds developer tools (demo, chaos, benchmarks) that inspect the tables read-only.
SCANNED = ("domain", "workers", "ingress", "db")
EXEMPT = {
    # Retention sweeps every module's tables by age from one registry, in batches (tests/integration/test_retention).
    Path("db/retention.py"),
}
SQL_ON_CONV = re.compile(r"\b(FROM|INTO|UPDATE|JOIN|TABLE)\s+conv_\w+", re.IGNORECASE)
ORM_ON_CONV = re.compile(
    r"\b(select|insert|update|delete)\(\s*(Conversation|Message|OperatorTask|FirstResponseClaim)\b"
)
CONV_TABLES = ("conv_conversations", "conv_messages", "conv_first_response_claims", "conv_operator_tasks")


def _sources() -> list[Path]:
    found = []
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" not in relative.parts and relative not in EXEMPT:
                found.append(relative)
    return found


def test_no_module_but_the_store_runs_a_statement_on_a_conv_table() -> None:
    offenders = [
        f"{path}:{number}: {line.strip()}"
        for path in _sources()
        if path != STORE
        for number, line in enumerate((ROOT / path).read_text().splitlines(), start=1)
        if SQL_ON_CONV.search(line) or ORM_ON_CONV.search(line)
    ]
    assert offenders == []


def test_the_scan_would_see_the_stores_statements() -> None:
    # Not vacuous: the same patterns find every conv_* table in the store, and the store names its statements.
    store_text = (ROOT / STORE).read_text()
    assert STORE in _sources()
    for table in CONV_TABLES:
        assert re.search(rf"\b(FROM|INTO|UPDATE)\s+{table}\b", store_text), table
    assert ORM_ON_CONV.search(store_text)
    assert {"open_conversation", "insert_outbound", "mark_queued", "advance_status", "block_caller"} <= set(STATEMENTS)


def _verbs() -> list[str]:
    return [name for name, member in vars(ConversationStore).items() if callable(member) and not name.startswith("_")]


def test_the_postgres_store_and_the_fake_implement_every_verb_with_the_same_parameters() -> None:
    assert len(_verbs()) >= 20
    for verb in _verbs():
        wanted = list(inspect.signature(getattr(ConversationStore, verb)).parameters)
        for implementation in (PostgresConversationStore, MemoryConversationStore):
            assert list(inspect.signature(getattr(implementation, verb)).parameters) == wanted, (implementation, verb)


def test_the_registered_handler_names_are_the_ones_stored_with_deliveries() -> None:
    # Renaming one would orphan every in-flight delivery that names it.
    assert {(item.handler_name, item.event_name) for item in handlers.subscriptions} == {
        ("conversations.greet_missed_caller", "nmc.telephony.CallMissed"),
        ("conversations.send_message", "nmc.conversations.OutboundMessageRequested"),
        ("conversations.apply_delivery_status", "nmc.telephony.MessageStatusReported"),
        ("conversations.reply_to_caller", "nmc.conversations.MessageReceived"),
        ("conversations.block_opted_out_caller", "nmc.compliance.OptOutRecorded"),
        ("conversations.confirm_appointment", "nmc.scheduling.AppointmentBooked"),
        ("conversations.confirm_appointment", "nmc.scheduling.AppointmentRescheduled"),
        ("conversations.record_answered_call", "nmc.telephony.CallAnswered"),
        ("conversations.withhold_after_answered_call", "nmc.telephony.CallAnswered"),
        ("conversations.decide_first_response", "nmc.conversations.FirstResponseGraceEnded"),
        ("conversations.open_write_back_task", "nmc.scheduling.AppointmentWriteBackFailed"),
        ("conversations.record_caller_name", "nmc.conversations.CallerNamed"),
    }
