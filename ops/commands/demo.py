"""`nmc demo`: a whole missed-call-to-booking conversation played through the running system.

Everything goes through the real ingress: the sandbox rings the demo tenant's number (nobody answers), the caller
texts back, and the thread is printed live as the sandbox sees it, followed by the first-SMS latency, the
booked appointment and the event written back to the technician's Google Calendar (the sandbox's stand-in: each demo
technician's calendar is linked with the sandbox's published token first).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

import click
import httpx
from sqlalchemy import text

from db.engine import make_engine, make_session_factory, transaction
from db.settings import Settings
from domain.identity.demo import demo_member
from domain.scheduling import credentials
from ops.context import echo_json, get_settings
from ops.sandbox.client import SandboxClient
from ops.tenants import DEMO_NUMBER, seed_demo

SCRIPT = (
    "Hi! How much is it to fix a clogged drain? Could someone come tomorrow morning?",
    "the first one works",
    "yes",
    "STOP",
)


class DemoFailed(click.ClickException):
    pass


@dataclass
class Thread:
    sandbox: SandboxClient
    caller: str
    seen: int = 0

    def messages(self) -> list[dict[str, Any]]:
        return self.sandbox.messages(to=self.caller)

    def wait_for_reply(self, timeout: float) -> list[dict[str, Any]]:
        """Print and return the business's new messages to the caller; wait until at least one arrives."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fresh = self.messages()[self.seen :]
            if fresh:
                time.sleep(0.3)  # a reply may come in two parts; let the second land before printing
                fresh = self.messages()[self.seen :]
                self.seen += len(fresh)
                for message in fresh:
                    click.echo(click.style(f"  business → {message['body']}", fg="green"))
                return fresh
            time.sleep(0.05)
        raise DemoFailed(f"no reply from the business within {timeout:.0f} s (is `nmc up` running?)")

    def text(self, body: str) -> None:
        click.echo(click.style(f"  caller   → {body}", fg="cyan"))
        response = self.sandbox.sms(self.caller, DEMO_NUMBER, body)
        if response.status_code >= 300:
            raise DemoFailed(f"the sandbox could not deliver the text: {response.status_code} {response.text[:200]}")


def _seed(settings: Settings) -> dict[str, Any]:
    """The demo tenant, each technician's Google Calendar linked to the sandbox's (relinked each run: idempotent)."""
    engine = make_engine(settings, pool_size=1, max_overflow=0, application_name="nmc-demo")
    try:
        with transaction(make_session_factory(engine)) as session:
            tenant = seed_demo(session, settings)
            box = credentials.CredentialBox(settings.credentials_key)
            for resource in tenant["resources"]:
                credentials.link_calendar(
                    session,
                    tenant_id=uuid.UUID(tenant["id"]),
                    resource_id=uuid.UUID(resource["id"]),
                    provider="google",
                    external_ref=demo_calendar(resource["name"]),
                    access_token=settings.google_calendar_token,
                    box=box,
                )
            return tenant
    finally:
        engine.dispose()


def demo_calendar(resource_name: str) -> str:
    """A demo technician's Google calendar id: "Sarah (HVAC & plumbing)" has sarah@<the demo tenant's domain>."""
    tech = demo_member("tech")
    domain = tech.email.partition("@")[2] if tech else "example.com"
    return f"{resource_name.split(' ')[0].casefold()}@{domain}"


def _written_back(sandbox: SandboxClient, appointment: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The appointment's event on its technician's calendar in the sandbox, once the write-back has made it."""
    calendar = demo_calendar(appointment["resource"])
    deadline = time.monotonic() + timeout
    while True:
        for event in sandbox.calendars()["google"].get(calendar, []):
            private = (event.get("extendedProperties") or {}).get("private") or {}
            if private.get("nmcAppointmentId") == appointment["id"] and event.get("status") != "cancelled":
                return {"calendar": calendar, "summary": event.get("summary"), "start": event["start"]["dateTime"]}
        if time.monotonic() > deadline:
            raise DemoFailed(f"the booking was not written back to {calendar} within {timeout:.0f} s")
        time.sleep(0.1)


def _outcome(settings: Settings, tenant_id: str, caller: str) -> dict[str, Any]:
    engine = make_engine(settings, pool_size=1, max_overflow=0, application_name="nmc-demo")
    try:
        with engine.connect() as conn:
            latency = conn.execute(
                text(
                    "SELECT first_response_latency_ms FROM conv_messages WHERE tenant_id = :t AND to_number = :c"
                    " AND purpose = 'first_response' ORDER BY created_at DESC LIMIT 1"
                ),
                {"t": tenant_id, "c": caller},
            ).scalar()
            appointment = conn.execute(
                text(
                    "SELECT a.id, lower(a.timeslot) AS starts_at, a.price_cents, r.name AS resource"
                    " FROM sched_appointments a JOIN sched_resources r ON r.id = a.resource_id"
                    " WHERE a.tenant_id = :t AND a.customer_phone = :c AND a.status = 'booked'"
                ),
                {"t": tenant_id, "c": caller},
            ).first()
            state = conn.execute(
                text(
                    "SELECT state FROM conv_conversations WHERE tenant_id = :t AND caller = :c"
                    " ORDER BY opened_at DESC LIMIT 1"
                ),
                {"t": tenant_id, "c": caller},
            ).scalar()
    finally:
        engine.dispose()
    return {
        "first_sms_latency_ms": latency,
        "appointment": None
        if appointment is None
        else {
            "id": str(appointment.id),
            "starts_at": appointment.starts_at.isoformat(),
            "price_cents": appointment.price_cents,
            "resource": appointment.resource,
        },
        "conversation_state": state,
    }


@click.command()
@click.option("--caller", help="The caller's E.164 number (default: a random +1 310 555 number).")
@click.option("--timeout", default=20.0, show_default=True, help="Seconds to wait for each reply.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON at the end.")
@click.pass_context
def demo(ctx: click.Context, caller: str | None, timeout: float, as_json: bool) -> None:
    """Play a whole missed-call-to-booking conversation through the running system."""
    settings = get_settings(ctx)
    if settings.live_mode:
        raise DemoFailed(
            "the demo plays through the sandbox, which does not run in live mode (TWILIO_API_BASE_URL empty)"
        )
    tenant = _seed(settings)
    caller = caller or f"+1310555{random.randint(2000, 9999)}"
    sandbox = SandboxClient(f"http://{settings.sandbox_bind}", http=httpx.Client(timeout=10))
    thread = Thread(sandbox, caller)
    click.echo(f"{tenant['name']} ({DEMO_NUMBER}) misses a call from {caller}…")
    try:
        response = sandbox.call(caller, DEMO_NUMBER)
    except httpx.HTTPError as error:
        raise DemoFailed(f"the sandbox at {settings.sandbox_bind} is not reachable: {error}") from None
    if response.status_code >= 300:
        raise DemoFailed(f"the missed call did not go through: {response.status_code} {response.text[:200]}")
    thread.wait_for_reply(timeout)
    for line in SCRIPT[:-1]:
        thread.text(line)
        thread.wait_for_reply(timeout)
    thread.text(SCRIPT[-1])
    time.sleep(1.5)  # STOP gets no reply from us (the carrier confirms it); give the opt-out time to land
    outcome = _outcome(settings, tenant["id"], caller)
    click.echo("")
    click.echo(f"first SMS latency (missed call → Twilio queued): {outcome['first_sms_latency_ms']} ms")
    if outcome["appointment"] is None:
        click.echo(f"conversation after STOP: {outcome['conversation_state']}")
        raise DemoFailed("the conversation ended without a booked appointment")
    appointment = outcome["appointment"]
    click.echo(
        f"booked: {appointment['starts_at']} with {appointment['resource']}, ${appointment['price_cents'] / 100:.2f}"
    )
    outcome["written_back"] = _written_back(sandbox, appointment, timeout)
    event = outcome["written_back"]
    click.echo(f"written back to {event['calendar']}'s Google Calendar: {event['summary']!r} at {event['start']}")
    click.echo(f"conversation after STOP: {outcome['conversation_state']}")
    if as_json:
        echo_json(outcome)
    if outcome["conversation_state"] != "blocked":
        raise DemoFailed("STOP did not block the conversation")
