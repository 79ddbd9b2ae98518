"""The sandbox's Google Calendar and Jobber stand-ins over real HTTP, driven by the real adapters with the default
(non-live) settings: busy time read, a booking inserted, moved and deleted, tokens renewed with the published
sandbox OAuth clients, and all of it visible at GET /sandbox/calendars; a calendar linked with `nmc calendar link`
and the sandbox token gets a booking written back by the real worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from db.engine import transaction
from db.published_secrets import (
    SANDBOX_GOOGLE_ACCESS_TOKEN,
    SANDBOX_GOOGLE_REFRESH_TOKEN,
    SANDBOX_JOBBER_ACCESS_TOKEN,
    SANDBOX_JOBBER_REFRESH_TOKEN,
)
from db.settings import Settings
from domain.events.sink import RootSink
from domain.scheduling import service as scheduling
from domain.scheduling.credentials import WriteTarget
from domain.scheduling.records import SlotRequest
from domain.scheduling.token_refresh import RefreshRefused
from domain.scheduling.write_back import AccessTokenRejected, EventDraft, google_event_id
from ops.cli import cli
from ops.commands.calendar import calendar
from ops.sandbox.client import SandboxClient
from ops.tenants import DEMO_NUMBER, seed_demo
from tests.support.draining import drain
from tests.support.sandbox_world import World, sandbox_key_path, world  # noqa: F401
from workers.adapters.calendar_writes import build_calendar_writers
from workers.adapters.calendars import build_calendar_clients
from workers.adapters.oauth_tokens import build_token_refresher
from workers.bootstrap import build_dispatcher, build_worker_runtime

TZ = "America/New_York"
CALENDAR = "tech@example.com"
START = (datetime.now(UTC) + timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)


def draft(starts_at: datetime = START) -> EventDraft:
    appointment_id = uuid.uuid4()
    return EventDraft(
        appointment_id, google_event_id(appointment_id), "Furnace repair", "Booked by NeverMissCall",
        starts_at, starts_at + timedelta(hours=1),
    )  # fmt: skip


def target(provider: str, token: str, *, ref: str = CALENDAR, job: str | None = None) -> WriteTarget:
    return WriteTarget(uuid.uuid4(), provider, ref, TZ, token, job)  # type: ignore[arg-type]


def test_the_default_settings_point_the_calendar_adapters_at_the_sandbox(world: World) -> None:  # noqa: F811
    settings = world.settings
    assert not settings.live_mode
    assert settings.google_calendar_api_url == f"{world.url}/google"
    assert settings.jobber_oauth_token_endpoint == f"{world.url}/jobber/api/oauth/token"


def test_google_busy_time_and_a_booking_inserted_moved_and_deleted(world: World) -> None:  # noqa: F811
    sandbox = SandboxClient(world.url)
    readers = build_calendar_clients(world.settings, max_wait_seconds=0.01)
    # Any calendar the sandbox token reaches exists: a newly linked one is simply free.
    assert readers.google.free_busy(CALENDAR, START - timedelta(hours=2), START + timedelta(hours=2), TZ) == []
    world.sandbox.google.busy["busy@example.com"] = [(START, START + timedelta(minutes=30))]
    (block,) = readers.google.free_busy("busy@example.com", START - timedelta(hours=1), START + timedelta(hours=1), TZ)
    assert (block.starts_at, block.ends_at) == (START, START + timedelta(minutes=30))

    writers = build_calendar_writers(world.settings, max_wait_seconds=0.01)
    google = target("google", SANDBOX_GOOGLE_ACCESS_TOKEN)
    booking = draft()
    assert not writers.slot_taken(google, booking, ignore=None)
    assert writers.create(google, booking) == booking.event_id
    assert writers.create(google, booking) == booking.event_id  # a repeat is Google's 409, adopted: still one
    (event,) = sandbox.calendars()["google"][CALENDAR]
    assert event["id"] == booking.event_id
    assert event["summary"] == "Furnace repair"
    assert event["start"]["dateTime"] == START.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert event["extendedProperties"]["private"]["nmcAppointmentId"] == str(booking.appointment_id)
    # Another booking at that time sees it as taken.
    assert writers.slot_taken(google, draft(START + timedelta(minutes=30)), ignore=None)

    moved = EventDraft(
        **{**booking.__dict__, "starts_at": START + timedelta(hours=3), "ends_at": START + timedelta(hours=4)}
    )
    writers.move(google, booking.event_id, moved)
    found = writers.find(google, moved, external_id=booking.event_id)
    assert found is not None
    assert found.starts_at == START + timedelta(hours=3)
    assert not found.cancelled
    writers.remove(google, booking.event_id)
    writers.remove(google, booking.event_id)  # Google's 410 for a second delete: done already
    (event,) = sandbox.calendars()["google"][CALENDAR]
    assert event["status"] == "cancelled"
    assert sandbox.clear_calendars() == {"deleted": {"google": 1, "jobber": 0}}
    assert sandbox.calendars() == {"google": {}, "jobber": []}


def test_jobber_visits_read_and_written(world: World) -> None:  # noqa: F811
    world.sandbox.jobber.add_visit("existing", START, START + timedelta(hours=1), user_id="user-7")
    readers = build_calendar_clients(world.settings, max_wait_seconds=0.01)
    (busy,) = readers.jobber.busy_visits(
        user_id="user-7", window_start=START - timedelta(days=1), window_end=START + timedelta(days=1), timezone=TZ
    )
    assert busy.external_ref == "existing"

    writers = build_calendar_writers(world.settings, max_wait_seconds=0.01)
    jobber = target("jobber", SANDBOX_JOBBER_ACCESS_TOKEN, ref="acct-1/user-7", job="Z2lkOi8vSm9iYmVyL0pvYi8x")
    later = draft(START + timedelta(hours=2))
    assert writers.slot_taken(jobber, draft(), ignore=None)
    assert not writers.slot_taken(jobber, later, ignore=None)
    visit_id = writers.create(jobber, later)
    (visit,) = [visit for visit in SandboxClient(world.url).calendars()["jobber"] if visit["id"] == visit_id]
    assert (visit["title"], visit["jobId"]) == ("Furnace repair", "Z2lkOi8vSm9iYmVyL0pvYi8x")
    assert visit["assignedUsers"] == {"nodes": [{"id": "user-7"}]}
    assert visit["startAt"] == later.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    writers.remove(jobber, visit_id)
    assert [visit["id"] for visit in SandboxClient(world.url).calendars()["jobber"]] == ["existing"]


def test_tokens_are_renewed_with_the_sandbox_oauth_clients(world: World) -> None:  # noqa: F811
    refresher = build_token_refresher(world.settings)
    writers = build_calendar_writers(world.settings, max_wait_seconds=0.01)
    now = datetime.now(UTC)
    google = refresher.refresh("google", SANDBOX_GOOGLE_REFRESH_TOKEN, now=now)
    assert google.refresh_token is None
    assert google.expires_at is not None
    assert google.expires_at > now
    writers.create(target("google", google.access_token), draft())  # the renewed token writes

    jobber = refresher.refresh("jobber", SANDBOX_JOBBER_REFRESH_TOKEN, now=now)
    assert jobber.refresh_token
    assert jobber.expires_at is not None
    assert jobber.expires_at > now
    with pytest.raises(RefreshRefused, match="invalid_grant"):  # rotated: the one spent is refused from then on
        refresher.refresh("jobber", SANDBOX_JOBBER_REFRESH_TOKEN, now=now)
    assert refresher.refresh("jobber", jobber.refresh_token, now=now).refresh_token not in (None, jobber.refresh_token)

    with pytest.raises(AccessTokenRejected):
        writers.create(target("google", "ya29.not-a-sandbox-token"), draft())
    wrong_client = world.settings.model_copy(update={"google_oauth_client_id": "someone-elses-client"})
    with pytest.raises(RefreshRefused, match="invalid_client"):
        build_token_refresher(wrong_client).refresh("google", SANDBOX_GOOGLE_REFRESH_TOKEN, now=now)


def test_bad_requests_are_answered_in_the_providers_envelopes(world: World) -> None:  # noqa: F811
    auth = {"Authorization": f"Bearer {SANDBOX_GOOGLE_ACCESS_TOKEN}"}
    events = f"{world.url}/google/calendar/v3/calendars/{CALENDAR}/events"
    with httpx.Client(timeout=5) as http:
        broken = http.post(events, content=b"{not json", headers=auth)
        assert (broken.status_code, broken.json()["error"]["message"]) == (400, "Parse Error")
        no_time = http.post(events, json={"summary": "x"}, headers=auth)
        assert (no_time.status_code, no_time.json()["error"]["errors"][0]["reason"]) == (400, "required")
        bad_id = http.post(events, json={"id": "NOT_BASE32", "summary": "x"}, headers=auth)
        assert (bad_id.status_code, bad_id.json()["error"]["errors"][0]["reason"]) == (400, "invalid")
        window = http.get(events, headers=auth)
        assert window.status_code == 400
        missing = http.get(f"{events}/nmcnosuchevent", headers=auth)
        assert (missing.status_code, missing.json()["error"]["errors"][0]["reason"]) == (404, "notFound")
        graphql = http.post(
            f"{world.url}/jobber/api/graphql",
            json={"query": "mutation { visitEditSchedule(id: $id) }", "variables": {"id": "x", "input": {}}},
            headers={"Authorization": f"Bearer {SANDBOX_JOBBER_ACCESS_TOKEN}"},
        )
        assert graphql.status_code == 200
        assert graphql.json()["data"]["visitEditSchedule"]["userErrors"][0]["message"] == "Visit not found"
        unauthorized = http.post(f"{world.url}/jobber/api/graphql", json={"query": "{ visits }"})
        assert unauthorized.status_code == 401
        grant = http.post(f"{world.url}/google/token", data={"grant_type": "password"})
        assert (grant.status_code, grant.json()["error"]) == (401, "invalid_client")


def test_a_calendar_linked_with_nmc_calendar_link_gets_the_booking_written_back(
    settings: Settings,
    world: World,  # noqa: F811
) -> None:
    # The CLI reads the environment: the defaults but for where the sandbox and this test's database are.
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url, "TWILIO_API_BASE_URL": world.url}
    wired = settings.model_copy(update={"twilio_api_base_url": world.url})
    runtime, runner = build_worker_runtime(wired)
    try:
        with transaction(runtime.sessions) as session:
            tenant = seed_demo(session, wired)
        if calendar.name not in cli.commands:
            cli.add_command(calendar)
        args = ["calendar", "link", "--tenant", DEMO_NUMBER, "--resource", "Sarah", "--provider", "google"]
        result = CliRunner().invoke(
            cli, [*args, "--calendar", "sarah@ace-plumbing.example"], env=env, input=f"{SANDBOX_GOOGLE_ACCESS_TOKEN}\n"
        )
        assert result.exit_code == 0, result.output
        resource_id = next(uuid.UUID(r["id"]) for r in tenant["resources"] if r["name"].startswith("Sarah"))
        with transaction(runtime.sessions) as session:
            service_item_id = session.execute(
                text("SELECT service_item_id FROM sched_resource_services WHERE resource_id = :r LIMIT 1"),
                {"r": resource_id},
            ).scalar_one()
            appointment = scheduling.book_slot(
                session,
                SlotRequest(resource_id, service_item_id, START, START + timedelta(hours=1), "+16175550123"),
                tenant_id=uuid.UUID(tenant["id"]),
                price_cents=14900,
                currency="USD",
                now=datetime.now(UTC),
                events=RootSink(session),
                enforce_hours=False,
            )
        drain(build_dispatcher(runtime), runner, runtime.sessions)
        (event,) = SandboxClient(world.url).calendars()["google"]["sarah@ace-plumbing.example"]
        assert event["id"] == google_event_id(appointment.id)
        assert event["start"]["dateTime"] == START.strftime("%Y-%m-%dT%H:%M:%SZ")
    finally:
        runtime.broker.close()
        runtime.engine.dispose()
