"""The product's main job through real processes: sandbox → signed webhooks → ingress → outbox → dispatcher →
workers → Twilio SDK → sandbox, on the real Postgres and Redis."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from twilio.request_validator import RequestValidator

from db.engine import make_engine, make_session_factory, transaction
from db.settings import Settings
from domain.compliance import service as compliance
from domain.conversations import operator
from domain.events.sink import RootSink
from ops.sandbox.client import SandboxClient
from ops.stack import LocalStack
from ops.tenants import DEMO_NUMBER
from tests.support.demo_stack import demo_stack
from tests.support.services import base_settings
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
_callers = iter(range(2000, 9999))


@pytest.fixture(scope="module")
def stack(template_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with demo_stack(
        template_database,
        tmp_path_factory.mktemp("stack"),
        prefix="nmc_accept",
        extra_env={"DELIVERY_LEASE_SECONDS": "4", "WORKER_PROCESSES": "1", "SANDBOX_CALLBACK_DELAY_MS": "5"},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def db(stack: LocalStack) -> Iterator[Engine]:
    engine = make_engine(base_settings(database_url=stack.database_url), pool_size=2, max_overflow=2)
    yield engine
    engine.dispose()


def new_caller() -> str:
    return f"+1415555{next(_callers):04d}"


class Phone:
    def __init__(self, stack: LocalStack, caller: str, to: str = DEMO_NUMBER) -> None:
        self.stack, self.caller, self.to = stack, caller, to
        self.sandbox = SandboxClient(stack.sandbox_url)

    def outbound(self) -> list[dict[str, Any]]:
        return self.sandbox.messages(to=self.caller)

    def miss_call(self, status: str = "no-answer") -> dict[str, Any]:
        response = self.sandbox.call(self.caller, self.to, dial_status=status)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def text(self, body: str) -> None:
        response = self.sandbox.sms(self.caller, self.to, body)
        assert response.status_code == 200, response.text

    def say(self, body: str, *, answer_starts: str = "") -> str:
        """Text ``body`` and return the newest reply; with ``answer_starts``, the first new text that starts so: a
        staff phone also gets alerts about other callers in the meantime (one did, and the test read it instead)."""
        before = len(self.outbound())
        self.text(body)
        replies = wait_until(
            lambda: [m for m in self.outbound()[before:] if str(m["body"]).startswith(answer_starts)],
            what=f"a reply to {body!r}",
        )
        return str((replies[0] if answer_starts else replies[-1])["body"])


def scalar(db: Engine, query: str, **params: Any) -> Any:
    with db.connect() as conn:
        return conn.execute(text(query), params).scalar()


def test_a_missed_call_gets_one_first_sms_and_a_booking_follows(stack: LocalStack, db: Engine) -> None:
    phone = Phone(stack, new_caller())
    phone.miss_call()
    first = wait_until(phone.outbound, what="the first SMS")
    assert "Ace Plumbing" in first[0]["body"]
    latency = wait_until(
        lambda: scalar(
            db,
            "SELECT first_response_latency_ms FROM conv_messages WHERE to_number = :c AND purpose = 'first_response'",
            c=phone.caller,
        ),
        what="the recorded latency",
    )
    assert 0 < latency < 5000
    offer = phone.say("hi how much is a clogged drain? tomorrow morning if possible")
    assert "$149" in offer
    held = phone.say("the first one")
    assert "holding" in held.lower()
    booked = phone.say("yes")
    assert "booked" in booked.lower()
    assert (
        scalar(
            db,
            "SELECT count(*) FROM sched_appointments WHERE customer_phone = :c AND status = 'booked'",
            c=phone.caller,
        )
        == 1
    )
    assert scalar(db, "SELECT price_cents FROM sched_appointments WHERE customer_phone = :c", c=phone.caller) == 14900


def test_repeated_calls_and_duplicate_webhooks_send_one_first_sms(stack: LocalStack, db: Engine) -> None:
    phone = Phone(stack, new_caller())
    phone.miss_call()
    phone.miss_call("busy")
    wait_until(phone.outbound, what="the first SMS")
    time.sleep(1.0)
    assert len(phone.outbound()) == 1
    assert scalar(db, "SELECT count(*) FROM conv_conversations WHERE caller = :c", c=phone.caller) == 1


def test_the_same_inbound_sms_delivered_twenty_times_at_once_gets_one_reply(stack: LocalStack, db: Engine) -> None:
    phone = Phone(stack, new_caller())
    settings = Settings.from_env({"PUBLIC_BASE_URL": stack.ingress_url})
    url = f"{stack.ingress_url}/webhooks/twilio/sms"
    params = {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": settings.twilio_account_sid,
        "From": phone.caller,
        "To": DEMO_NUMBER,
        "Body": "how much for a leak repair?",
        "NumMedia": "0",
    }
    signature = RequestValidator(settings.twilio_auth_token.get_secret_value()).compute_signature(url, params)
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def deliver() -> None:
        barrier.wait()
        response = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    replies = wait_until(phone.outbound, what="the reply")
    time.sleep(1.0)
    assert len(phone.outbound()) == 1
    assert "$179" in replies[0]["body"]


def test_stop_blocks_the_conversation_and_nothing_more_is_sent(stack: LocalStack, db: Engine) -> None:
    phone = Phone(stack, new_caller())
    phone.miss_call()
    wait_until(phone.outbound, what="the first SMS")
    phone.text("STOP")
    wait_until(
        lambda: (
            scalar(
                db,
                "SELECT state FROM conv_conversations WHERE caller = :c ORDER BY opened_at DESC LIMIT 1",
                c=phone.caller,
            )
            == "blocked"
        ),
        what="the conversation to be blocked",
    )
    assert scalar(db, "SELECT count(*) FROM comp_opt_outs WHERE phone = :c AND revoked_at IS NULL", c=phone.caller) == 1
    phone.text("hello? how much is drain cleaning")
    wait_until(
        lambda: scalar(
            db, "SELECT count(*) FROM conv_messages WHERE to_number = :c AND status = 'blocked'", c=phone.caller
        ),
        what="the reply to be blocked",
    )
    assert (
        scalar(
            db,
            "SELECT preflight->>'reason' FROM conv_messages WHERE to_number = :c AND status = 'blocked'",
            c=phone.caller,
        )
        == "opted_out"
    )
    assert len(phone.outbound()) == 1  # only the first SMS ever left


def test_until_the_campaign_is_approved_calls_are_recorded_but_no_sms_leaves(stack: LocalStack, db: Engine) -> None:
    settings = base_settings(database_url=stack.database_url)
    sessions = make_session_factory(db)
    tenant_number = "+13125550199"
    with transaction(sessions) as session:
        from domain.identity import service as identity

        tenant = identity.create_tenant(
            session,
            name="Pending Pipes",
            number=tenant_number,
            forward_to="+13125550100",
            timezone="America/Chicago",
            plan="pro",
            events=RootSink(session),
        )
        compliance.ensure_campaign(session, tenant_id=tenant.id)
    del settings
    phone = Phone(stack, new_caller(), to=tenant_number)
    phone.miss_call()
    reason = wait_until(
        lambda: scalar(
            db,
            "SELECT preflight->>'reason' FROM conv_messages WHERE to_number = :c AND status = 'blocked'",
            c=phone.caller,
        ),
        what="the first SMS to be blocked",
    )
    assert reason == "campaign_not_approved"
    assert scalar(db, "SELECT state FROM conv_conversations WHERE caller = :c", c=phone.caller) == "open"
    assert phone.outbound() == []


def test_a_human_takeover_silences_the_ai(stack: LocalStack, db: Engine) -> None:
    phone = Phone(stack, new_caller())
    phone.miss_call()
    wait_until(phone.outbound, what="the first SMS")
    conversation_id = scalar(db, "SELECT id FROM conv_conversations WHERE caller = :c", c=phone.caller)
    tenant_id = scalar(db, "SELECT tenant_id FROM conv_conversations WHERE caller = :c", c=phone.caller)
    with transaction(make_session_factory(db)) as session:
        operator.take_over(
            session, tenant_id=tenant_id, conversation_id=conversation_id, user_id=None, events=RootSink(session)
        )
    phone.text("how much is a drain cleaning?")
    wait_until(
        lambda: scalar(db, "SELECT count(*) FROM conv_messages WHERE from_number = :c", c=phone.caller),
        what="the inbound to be recorded",
    )
    time.sleep(1.0)
    assert len(phone.outbound()) == 1  # no AI reply while a human holds the conversation


def test_a_soft_stop_hands_over_to_a_human(stack: LocalStack, db: Engine) -> None:
    phone = Phone(stack, new_caller())
    phone.miss_call()
    wait_until(phone.outbound, what="the first SMS")
    phone.text("leave me alone")  # unclear; "please stop texting me" is a clear opt-out now
    wait_until(
        lambda: scalar(db, "SELECT state FROM conv_conversations WHERE caller = :c", c=phone.caller) == "human",
        what="the handoff",
    )
    # One short acknowledgement after the first SMS, then nothing automated however often the caller texts.
    wait_until(lambda: len(phone.outbound()) == 2, what="the acknowledgement")
    phone.text("hello?")
    time.sleep(0.5)
    assert len(phone.outbound()) == 2


def test_a_worker_killed_between_the_provider_call_and_the_commit_sends_once(stack: LocalStack, db: Engine) -> None:
    phone = Phone(stack, new_caller())
    # The sandbox holds the next send for 2.5 s: the request is in flight (and then accepted) when the worker dies.
    phone.sandbox.arm({"send": {"latency_ms": 2500, "count": 1}})
    try:
        phone.miss_call()
        wait_until(
            lambda: scalar(db, "SELECT send_attempted_at FROM conv_messages WHERE to_number = :c", c=phone.caller),
            what="the send intent",
        )
        time.sleep(0.3)
        stack.kill("worker")
        stack.start_process("worker")
        wait_until(
            lambda: (
                scalar(db, "SELECT status FROM conv_messages WHERE to_number = :c", c=phone.caller)
                in ("queued", "sent", "delivered")
            ),
            timeout=40,
            what="the retried send to be recorded",
        )
    finally:
        phone.sandbox.clear_faults()
    time.sleep(0.5)
    assert len(phone.outbound()) == 1
    assert (
        scalar(
            db,
            "SELECT d.attempts FROM outbox_deliveries d JOIN outbox_events e USING (event_id)"
            " WHERE d.handler = 'conversations.send_message' AND e.payload->>'to_number' = :c",
            c=phone.caller,
        )
        == 2
    )


def test_the_owner_takes_over_from_the_alert_by_sms_and_the_caller_gets_their_text(
    stack: LocalStack, db: Engine
) -> None:
    from ops.tenants import DEMO_OWNER_MOBILE

    phone = Phone(stack, new_caller())
    owner = Phone(stack, DEMO_OWNER_MOBILE)
    phone.miss_call()
    wait_until(phone.outbound, what="the first SMS")
    phone.text("can I talk to a real person please")
    alert = wait_until(
        lambda: [m["body"] for m in owner.outbound() if f"{phone.caller} would like to talk to a person" in m["body"]],
        what="the owner's alert",
    )[-1]
    code = alert[:3]
    assert alert.startswith(f"{code}: ")
    assert f"Reply {code} TAKE" in alert
    assert owner.say(f"{code} TAKE", answer_starts="You have ").startswith(f"You have {code} ({phone.caller})")
    owner.text(f"{code} Hi, this is the owner. I can be there at 3pm.")
    wait_until(
        lambda: [m for m in phone.outbound() if m["body"] == "Hi, this is the owner. I can be there at 3pm."],
        what="the owner's text at the caller",
    )
    assert scalar(db, "SELECT count(*) FROM conv_conversations WHERE caller = :c", c=DEMO_OWNER_MOBILE) == 0
    assert (
        scalar(db, "SELECT state FROM conv_conversations WHERE caller = :c AND state <> 'closed'", c=phone.caller)
        == "human"
    )
