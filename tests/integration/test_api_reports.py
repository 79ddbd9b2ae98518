"""GET /v1/reports through falcon.testing: per-day rows and totals for the caller's tenant only."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from db.engine import transaction
from tests.support import api_world as api

jwks = api.jwks
world = api.world


def _seed(world: api.World, tenant: uuid.UUID, day: date, *, missed: int, bookings: int, revenue: int) -> None:
    with transaction(world.sessions) as session:
        session.execute(
            text(
                "INSERT INTO rep_daily_tenant_stats (tenant_id, day, missed_calls, conversations, bookings,"
                " recovered_revenue_cents, opt_outs, takeovers) VALUES (:t, :d, :m, :m, :b, :r, 0, 1)"
            ),
            {"t": tenant, "d": day, "m": missed, "b": bookings, "r": revenue},
        )
        for latency in (1000, 2000, 3000, 4000):
            session.execute(
                text(
                    "INSERT INTO rep_first_responses (message_id, tenant_id, day, latency_ms) VALUES (:id, :t, :d, :l)"
                ),
                {"id": uuid.uuid4(), "t": tenant, "d": day, "l": latency},
            )


def test_reports_are_per_day_for_the_callers_tenant_only(world: api.World) -> None:
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    _seed(world, world.a, yesterday, missed=3, bookings=2, revenue=25000)
    _seed(world, world.a, today, missed=1, bookings=0, revenue=0)
    _seed(world, world.b, today, missed=50, bookings=40, revenue=999_999)

    result = world.call("get", "/v1/reports", who="tech_a", params={"days": "3"})
    assert result.status_code == 200, result.text
    report = result.json
    assert report["tenant_id"] == str(world.a)
    assert [row["day"] for row in report["days"]] == [
        (today - timedelta(days=2)).isoformat(),
        yesterday.isoformat(),
        today.isoformat(),
    ]
    first, middle, last = report["days"]
    assert (first["missed_calls"], first["bookings"], first["first_response_p95_ms"]) == (0, 0, None)
    assert (middle["missed_calls"], middle["bookings"], middle["recovered_revenue_cents"]) == (3, 2, 25000)
    assert middle["first_responses"] == 4
    assert middle["first_response_p50_ms"] == 2500.0
    assert last["missed_calls"] == 1
    totals = report["totals"]
    assert (totals["missed_calls"], totals["bookings"], totals["recovered_revenue_cents"]) == (4, 2, 25000)
    assert totals["first_responses"] == 8
    assert totals["takeovers"] == 2

    theirs = world.call("get", "/v1/reports", who="owner_b").json
    assert theirs["totals"]["missed_calls"] == 50
    assert len(theirs["days"]) == 7  # the default window

    ended = world.call("get", "/v1/reports", params={"days": "1", "to": yesterday.isoformat()}).json
    assert [row["day"] for row in ended["days"]] == [yesterday.isoformat()]
    assert ended["totals"]["missed_calls"] == 3


def test_bad_report_queries_are_400_naming_the_parameter(world: api.World) -> None:
    for params, field in (
        ({"days": "0"}, "days"),
        ({"days": "401"}, "days"),
        ({"days": "week"}, "days"),
        ({"to": "yesterday"}, "to"),
        ({"to": "0001-01-01"}, "to"),
        ({"to": "9999-12-31"}, "to"),
    ):
        result = world.call("get", "/v1/reports", params=params)
        assert result.status_code == 400, (params, result.text)
        assert field in result.json["error"]["message"], result.json
    assert world.call("get", "/v1/reports", who="user_nobody").status_code == 403
    assert world.client.simulate_get("/v1/reports").status_code == 401
