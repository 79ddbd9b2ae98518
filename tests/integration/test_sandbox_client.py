"""ops/sandbox/client.py against a real sandbox over HTTP: the one client demo, chaos, soak and the benchmarks use."""

from __future__ import annotations

import re

import httpx
import pytest

from ops.sandbox.client import SandboxClient
from tests.support.sandbox_world import (  # noqa: F401
    World,
    free_port,
    sandbox_key_path,
    world,
)

TENANT = "+13105550100"
CALLER = "+13105550199"
TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    '<Dial action="/webhooks/twilio/voice/status" timeout="20"><Number>+13105550142</Number></Dial></Response>'
)


@pytest.fixture
def client(world: World) -> SandboxClient:  # noqa: F811
    return SandboxClient(world.url, http=world.http)


def test_a_missed_call_plays_both_voice_webhooks(world: World, client: SandboxClient) -> None:  # noqa: F811
    world.ingress.responders["/webhooks/twilio/voice"] = lambda _r: (200, "text/xml", TWIML)

    answer = client.call(CALLER, TENANT)

    assert answer.status_code == 200, answer.text
    assert re.fullmatch(r"CA[0-9a-f]{32}", answer.json()["call_sid"])
    assert answer.json()["webhook_status"] == [200, 200]
    status = world.ingress.at("/webhooks/twilio/voice/status")[0].form
    assert (status["From"], status["To"], status["DialCallStatus"]) == (CALLER, TENANT, "no-answer")


def test_a_busy_forward_is_sent_as_that_dial_status(world: World, client: SandboxClient) -> None:  # noqa: F811
    world.ingress.responders["/webhooks/twilio/voice"] = lambda _r: (200, "text/xml", TWIML)

    assert client.call(CALLER, TENANT, dial_status="busy").status_code == 200
    assert world.ingress.at("/webhooks/twilio/voice/status")[0].form["DialCallStatus"] == "busy"


def test_texts_are_posted_and_listed_by_number_and_time(world: World, client: SandboxClient) -> None:  # noqa: F811
    answer = client.sms(CALLER, TENANT, "how much for a drain?")

    assert answer.status_code == 200, answer.text
    assert answer.json()["webhook_status"] == 200
    assert world.ingress.at("/webhooks/twilio/sms")[0].form["Body"] == "how much for a drain?"
    mine = client.messages(sender=CALLER)
    assert [(m["direction"], m["body"]) for m in mine] == [("inbound", "how much for a drain?")]
    assert client.messages(to=CALLER) == []
    assert client.messages(sender="+13105550123") == []
    assert client.messages(since=mine[0]["created_at"]) == []
    assert [m["sid"] for m in client.messages()] == [mine[0]["sid"]]


def test_a_refused_read_raises_rather_than_reading_an_error_as_messages(client: SandboxClient) -> None:
    with pytest.raises(httpx.HTTPStatusError) as refused:
        client.messages(since="yesterday")
    assert refused.value.response.status_code == 400


def test_faults_are_armed_read_and_cleared(client: SandboxClient) -> None:
    assert client.arm({"callbacks": "drop"})["callbacks"] == "drop"
    assert client.faults()["callbacks"] == "drop"
    assert client.clear_faults()["callbacks"] == "normal"
    assert client.faults()["callbacks"] == "normal"
    with pytest.raises(httpx.HTTPStatusError):
        client.arm({"callbacks": "sideways"})


def test_without_a_pooled_client_each_request_goes_on_its_own(world: World) -> None:  # noqa: F811
    one_shot = SandboxClient(world.url + "/", timeout=5)

    assert one_shot.sms(CALLER, TENANT, "hi").status_code == 200
    assert [m["body"] for m in one_shot.messages(sender=CALLER)] == ["hi"]
    one_shot.close()  # nothing to close: a no-op, not an error
