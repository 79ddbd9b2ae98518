"""The staff app's reports screen (/app/reports) through falcon.testing on real Postgres: per day of the tenant's
time zone, a chart and a table, a date range, OWNER only, the tenant's own figures only."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from db.engine import transaction
from domain.reporting import projections
from tests.support import api_world
from tests.support.api_world import World
from tests.support.staff_pages import get_page

jwks = api_world.jwks
world = api_world.world

LA = ZoneInfo("America/Los_Angeles")


def _los_angeles(world: World) -> None:
    with transaction(world.sessions) as session:
        session.execute(text("UPDATE id_tenants SET timezone = 'America/Los_Angeles' WHERE id = :t"), {"t": world.a})


def _record(world: World, tenant: uuid.UUID, moment: datetime, *, missed: int = 0, booked_cents: int | None = None,
            latencies: tuple[int, ...] = ()) -> None:  # fmt: skip
    with transaction(world.sessions) as session:
        for _ in range(missed):
            projections.add_to_quarter_hour(session, tenant, moment, counter="missed_calls")
            projections.add_to_quarter_hour(session, tenant, moment, counter="conversations")
        if booked_cents is not None:
            projections.add_to_quarter_hour(session, tenant, moment, counter="bookings", revenue_cents=booked_cents)
        for latency in latencies:
            projections.record_first_response(session, tenant, uuid.uuid4(), moment, latency)


def _rows(html: str) -> dict[str, list[str]]:
    """The table's rows: ISO day → its cells."""
    found = {}
    for day, cells in re.findall(r'<tr><th scope="row"><time datetime="([0-9-]+)">[^<]*</time></th>(.*?)</tr>', html):
        found[day] = re.findall(r"<td>(.*?)</td>", cells)
    return found


def test_the_owner_sees_the_last_30_local_days_as_charts_and_a_table(world: World) -> None:
    _los_angeles(world)
    today = datetime.now(LA).date()
    two_days_ago = today - timedelta(days=2)
    noon = datetime.combine(two_days_ago, time(12), tzinfo=LA)
    _record(world, world.a, noon, missed=3, booked_cents=12_500, latencies=(1000, 2000, 3000, 4000))
    _record(world, world.b, noon, missed=50, booked_cents=999_999)  # another tenant's

    result = get_page(world, "/app/reports")
    assert result.status_code == 200, result.text
    rows = _rows(result.text)
    assert len(rows) == 30
    assert min(rows) == (today - timedelta(days=29)).isoformat()
    assert max(rows) == today.isoformat()
    assert rows[two_days_ago.isoformat()] == ["3", "3", "2.5 s", "3.9 s", "1", "$125.00"]
    assert rows[today.isoformat()] == ["0", "0", "–", "–", "0", "$0.00"]
    assert "Days in America/Los_Angeles" in result.text
    assert result.text.count('role="img"') == 3
    assert '<title id="chart-counts-t">' in result.text
    assert "Missed calls: highest 3" in result.text
    assert "$999" not in result.text
    assert re.search(r"<dt>Recovered revenue</dt><dd>\$125\.00</dd>", result.text)
    assert re.search(r'href="/app/reports" aria-current="page"', result.text)


def test_a_missed_call_at_23_30_local_is_on_that_local_day(world: World) -> None:
    _los_angeles(world)
    day = datetime.now(LA).date() - timedelta(days=3)
    late = datetime.combine(day, time(23, 30), tzinfo=LA)
    assert late.astimezone(UTC).date() == day + timedelta(days=1)  # the next day in UTC
    _record(world, world.a, late, missed=1, latencies=(1500,))
    result = get_page(
        world, "/app/reports", params={"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}
    )
    assert result.status_code == 200, result.text
    rows = _rows(result.text)
    assert rows[day.isoformat()][:3] == ["1", "1", "1.5 s"]
    assert rows[(day + timedelta(days=1)).isoformat()][:3] == ["0", "0", "–"]


def test_a_chosen_range_is_shown_day_by_day(world: World) -> None:
    result = get_page(world, "/app/reports", params={"from": "2025-03-01", "to": "2025-03-07"})
    assert result.status_code == 200
    assert sorted(_rows(result.text)) == [f"2025-03-0{n}" for n in range(1, 8)]
    one = get_page(world, "/app/reports", params={"from": "2025-03-01", "to": "2025-03-01"})
    assert list(_rows(one.text)) == ["2025-03-01"]


def test_a_tech_is_refused_reports(world: World) -> None:
    result = get_page(world, "/app/reports", who="tech_a")
    assert result.status_code == 403
    assert "OWNER" in result.text
    assert 'href="/app/reports"' not in get_page(world, "/app", who="tech_a").text


def test_bad_ranges_are_400(world: World) -> None:
    today = date.today()
    for params in (
        {"from": "yesterday"},
        {"to": "2025-02-30"},
        {"from": "2025-03-07", "to": "2025-03-01"},
        {"from": "2020-01-01", "to": "2025-01-01"},  # longer than 400 days
        {"to": "9999-12-31"},
        {"from": "0001-01-01", "to": today.isoformat()},
    ):
        assert get_page(world, "/app/reports", params=params).status_code == 400, params
