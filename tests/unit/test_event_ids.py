"""Event ids are RFC 9562 version 7: time-ordered, so the outbox's indexes on them grow at their right edge."""

from __future__ import annotations

import time
import uuid

from domain.events.catalog import TenantCreated
from domain.events.envelope import new_event_id
from domain.events.outbox import build_envelope


def _milliseconds(value: uuid.UUID) -> int:
    return value.int >> 80


def test_a_new_event_id_is_version_7_with_the_current_unix_milliseconds_in_front() -> None:
    before = time.time_ns() // 1_000_000
    value = new_event_id()
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= _milliseconds(value) <= after


def test_ids_minted_a_millisecond_apart_sort_in_minting_order_and_never_repeat() -> None:
    minted = []
    for _ in range(20):
        minted.append(new_event_id())
        time.sleep(0.0015)
    assert minted == sorted(minted)
    assert len({new_event_id() for _ in range(10_000)}) == 10_000


def test_an_envelope_gets_a_time_ordered_id_unless_one_is_given() -> None:
    event = TenantCreated(name="Acme", phone_number="+13105550100", timezone="UTC")
    assert build_envelope(event, tenant_id=None).event_id.version == 7
    given = uuid.uuid4()
    assert build_envelope(event, tenant_id=None, event_id=given).event_id == given
