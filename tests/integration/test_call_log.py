"""Twilio's Calls list through the real ``twilio`` SDK against the sandbox: what the callback grace period can see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ops.sandbox.client import SandboxClient
from tests.support.sandbox_world import World, sandbox_key_path, world  # noqa: F401
from workers.adapters.call_log import TwilioCallLog
from workers.adapters.twilio_gateway import TwilioGateway

NUMBER = "+13105551000"
CALLER = "+16175550142"
DIAL = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Dial action="/webhooks/twilio/voice/status">'
    "<Number>+13105551001</Number></Dial></Response>"
)


def test_the_call_list_tells_an_answered_recall_and_a_staff_call_from_unanswered_ones(world: World) -> None:  # noqa: F811
    world.ingress.responders["/webhooks/twilio/voice"] = lambda _request: (200, "application/xml", DIAL)
    sandbox = SandboxClient(world.url, http=world.http)
    gateway = TwilioGateway(world.settings)
    log = TwilioCallLog(gateway)
    since = datetime.now(UTC) - timedelta(seconds=1)
    try:
        missed = sandbox.call(CALLER, NUMBER).json()["call_sid"]
        assert log.callback_since(business_number=NUMBER, customer=CALLER, since=since, missed_call_sid=missed) is None
        sandbox.call(CALLER, NUMBER, dial_status="busy").raise_for_status()  # a re-call missed again
        sandbox.call_out(NUMBER, CALLER, answered=False).raise_for_status()  # staff tried, nobody picked up
        assert log.callback_since(business_number=NUMBER, customer=CALLER, since=since, missed_call_sid=missed) is None

        recall = sandbox.call(CALLER, NUMBER, answered=True, dial_status="completed").json()["call_sid"]
        seen = log.callback_since(business_number=NUMBER, customer=CALLER, since=since, missed_call_sid=missed)
        assert seen is not None
        assert (seen.call_sid, seen.reason) == (recall, "caller_recall_answered")

        staff = sandbox.call_out(NUMBER, "+16175550143", status_callback=False).json()["call_sid"]
        seen = log.callback_since(business_number=NUMBER, customer="+16175550143", since=since, missed_call_sid="CAx")
        assert seen is not None
        assert (seen.call_sid, seen.reason) == (staff, "staff_called_back")
        # Calls before the missed call do not count (Twilio filters by date; the time is compared here).
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert log.callback_since(business_number=NUMBER, customer=CALLER, since=later, missed_call_sid=missed) is None
        # Each of the caller's calls is a parent call Twilio answered, and a dialled leg that says who picked up.
        legs = {sid: [leg.status for leg in world.sandbox.calls.find(parent_call_sid=sid)] for sid in (missed, recall)}
        assert legs == {missed: ["no-answer"], recall: ["completed"]}
    finally:
        gateway.close()
