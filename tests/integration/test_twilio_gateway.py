"""TwilioGateway (the real twilio SDK) against the sandbox over real HTTP."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from tests.support.sandbox_world import World, free_port, sandbox_key_path, world  # noqa: F401
from tests.support.services import base_settings
from workers.adapters.twilio_gateway import ProviderError, TwilioGateway, classify

TENANT = "+13105550100"
CALLER = "+13105550199"


@pytest.fixture
def gateway(world: World) -> Iterator[TwilioGateway]:  # noqa: F811
    gateway = TwilioGateway(world.settings)
    yield gateway
    gateway.close()


def _wait_status(gateway: TwilioGateway, sid: str, status: str, timeout: float = 3.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        current = gateway.fetch(sid).status
        if current == status or time.monotonic() > deadline:
            return current
        time.sleep(0.01)


def test_send_fetch_and_list_round_trip(gateway: TwilioGateway, world: World) -> None:  # noqa: F811
    sent = gateway.send(to=CALLER, from_=TENANT, body="Sorry we missed your call!", status_callback=None)

    assert re.fullmatch(r"SM[0-9a-f]{32}", sent.sid)
    assert (sent.status, sent.num_segments) == ("queued", 1)
    assert _wait_status(gateway, sent.sid, "delivered") == "delivered"
    fetched = gateway.fetch(sent.sid)
    assert (fetched.to, fetched.from_, fetched.body, fetched.direction) == (
        CALLER,
        TENANT,
        "Sorry we missed your call!",
        "outbound-api",
    )
    assert fetched.error_code is None
    assert fetched.date_sent is not None
    assert fetched.date_created is not None

    others = [gateway.send(to="+13105550111", from_=TENANT, body=f"n{i}").sid for i in range(3)]
    assert [m.sid for m in gateway.list_messages(to=CALLER)] == [sent.sid]
    # page_size 2 forces the SDK to follow next_page_uri through the sandbox; newest first.
    listed = gateway.list_messages(from_=TENANT, page_size=2)
    assert [m.sid for m in listed] == [*reversed(others), sent.sid]


def test_list_filters_by_date_sent(gateway: TwilioGateway) -> None:
    sent = gateway.send(to=CALLER, from_=TENANT, body="hello")
    assert _wait_status(gateway, sent.sid, "delivered") == "delivered"
    yesterday = datetime.now(UTC) - timedelta(days=1)
    assert [m.sid for m in gateway.list_messages(date_sent_after=yesterday)] == [sent.sid]
    assert gateway.list_messages(date_sent_after=yesterday + timedelta(days=2)) == []


def test_wrong_credentials_are_a_permanent_20003(world: World) -> None:  # noqa: F811
    bad = TwilioGateway(world.settings.model_copy(update={"twilio_auth_token": SecretStr("wrong")}))
    try:
        with pytest.raises(ProviderError) as caught:
            bad.send(to=CALLER, from_=TENANT, body="hi")
    finally:
        bad.close()
    assert (caught.value.code, caught.value.http_status, caught.value.retryable) == (20003, 401, False)


def test_stop_blocks_the_pair_with_21610_until_start(gateway: TwilioGateway, world: World) -> None:  # noqa: F811
    assert world.post("/sandbox/sms", {"from": CALLER, "to": TENANT, "body": "stop"}).json()["blocked"] is True

    with pytest.raises(ProviderError) as caught:
        gateway.send(to=CALLER, from_=TENANT, body="are you there?")
    assert caught.value.code == 21610
    assert caught.value.opted_out
    assert not caught.value.retryable
    # The block is per (caller, tenant number): another tenant number still reaches the caller.
    assert gateway.send(to=CALLER, from_="+13105550101", body="other business").status == "queued"

    assert world.post("/sandbox/sms", {"from": CALLER, "to": TENANT, "body": "START"}).json()["blocked"] is False
    assert gateway.send(to=CALLER, from_=TENANT, body="welcome back").status == "queued"


def test_429_fault_is_retryable_then_the_send_succeeds(gateway: TwilioGateway, world: World) -> None:  # noqa: F811
    world.fault({"send": {"http_status": 429, "code": 20429, "count": 2}})
    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            gateway.send(to=CALLER, from_=TENANT, body="hi")
        assert (caught.value.http_status, caught.value.code, caught.value.retryable) == (429, 20429, True)
    assert gateway.send(to=CALLER, from_=TENANT, body="hi").status == "queued"


def test_5xx_retryable_and_validation_errors_permanent(gateway: TwilioGateway, world: World) -> None:  # noqa: F811
    world.fault({"send": {"http_status": 503}})
    with pytest.raises(ProviderError) as caught:
        gateway.send(to=CALLER, from_=TENANT, body="hi")
    assert (caught.value.http_status, caught.value.retryable) == (503, True)

    for to, body, code in [("12345", "hi", 21211), (CALLER, "", 21602)]:
        with pytest.raises(ProviderError) as caught:
            gateway.send(to=to, from_=TENANT, body=body)
        assert (caught.value.http_status, caught.value.code, caught.value.retryable) == (400, code, False)

    with pytest.raises(ProviderError) as caught:
        gateway.fetch("SM" + "0" * 32)
    assert (caught.value.http_status, caught.value.code, caught.value.retryable) == (404, 20404, False)


def test_classification_table() -> None:
    assert classify(30003, 400, "unreachable").retryable
    assert not classify(30006, 400, "landline").retryable
    assert not classify(30007, 400, "filtered").retryable
    assert not classify(21211, 400, "bad to").retryable
    assert classify(None, 500, "boom").retryable
    opted = classify(21610, 400, "unsubscribed")
    assert opted.opted_out
    assert not opted.retryable


def test_unreachable_provider_is_retryable_and_not_ambiguous(tmp_path: object) -> None:
    settings = base_settings(twilio_api_base_url=f"http://127.0.0.1:{free_port()}")
    gateway = TwilioGateway(settings)
    try:
        with pytest.raises(ProviderError) as caught:
            gateway.send(to=CALLER, from_=TENANT, body="hi")
    finally:
        gateway.close()
    assert (caught.value.http_status, caught.value.retryable, caught.value.ambiguous) == (0, True, False)


def test_read_timeout_is_ambiguous(world: World) -> None:  # noqa: F811
    world.fault({"send": {"http_status": 503, "latency_ms": 800}})
    slow = TwilioGateway(world.settings, read_timeout=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(ProviderError) as caught:
            slow.send(to=CALLER, from_=TENANT, body="hi")
        assert time.monotonic() - started < 0.7
    finally:
        slow.close()
    assert (caught.value.retryable, caught.value.ambiguous) == (True, True)
