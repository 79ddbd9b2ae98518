"""The chaos suite's short form: 150 missed calls (some callers texting back) over ~20 s through real processes,
while a Dramatiq worker process, the dispatcher and a gunicorn worker are SIGKILLed, a private Redis is restarted,
the run's database is cut off, and provider faults are armed. Every invariant must hold afterwards."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from ops.chaos import ChaosPlan, caller_plans, fault_schedule, run_chaos
from ops.harness.scratch import tenant_numbers
from tests.support.services import base_settings

SHORT = ChaosPlan(calls=150, duration_seconds=20, seed=1, tenants=3, settle_seconds=60, patience_seconds=10)
CORE_FAULTS = {
    "kill_worker_process",
    "kill_dispatcher",
    "kill_gunicorn_worker",
    "restart_redis",
    "postgres_outage",
    "send_permanent_400",
    "final_status_failed",
}


def test_the_plan_is_a_function_of_the_seed() -> None:
    numbers = tenant_numbers(3)
    assert caller_plans(SHORT, numbers) == caller_plans(SHORT, numbers)
    assert fault_schedule(SHORT) == fault_schedule(SHORT)
    assert caller_plans(SHORT, numbers) != caller_plans(ChaosPlan(calls=150, seed=2), numbers)


def test_every_fault_strikes_during_the_load_one_at_a_time() -> None:
    for plan in (SHORT, ChaosPlan()):
        faults = fault_schedule(plan)
        assert {fault.kind for fault in faults} >= CORE_FAULTS
        times = [fault.planned_at for fault in faults]
        assert times == sorted(times)
        assert all(b - a >= 0.49 for a, b in itertools.pairwise(times))
        assert times[0] >= 0.1 * plan.duration_seconds
        assert times[-1] < 0.85 * plan.duration_seconds
    long_form = fault_schedule(ChaosPlan(calls=2000))
    assert sum(fault.kind == "kill_dispatcher" for fault in long_form) == 2
    # On RabbitMQ the node is restarted too (Redis still is: it keeps the heartbeats), and nothing else changes.
    rabbit = [fault.kind for fault in fault_schedule(ChaosPlan(calls=2000, broker="rabbitmq"))]
    assert sorted(rabbit) == sorted([fault.kind for fault in long_form] + ["restart_rabbitmq"])


@pytest.mark.slow
def test_short_chaos_run_loses_and_duplicates_nothing(template_database: str, tmp_path: Path) -> None:
    result = run_chaos(
        base_settings(), SHORT, log_dir=tmp_path / "logs", template=template_database, results_dir=tmp_path
    )
    struck = {fault.kind: fault for fault in result.faults}
    assert set(struck) >= CORE_FAULTS
    assert [fault for fault in result.faults if fault.error] == []
    assert all(fault.at is not None for fault in result.faults)
    failed = [(i.name, i.detail, i.evidence) for i in result.invariants if not i.passed]
    assert failed == []
    assert len(result.invariants) == 6
    # The system recovered (callers who rang while the ingress or the database was down got through on a later
    # ring) and the permanent refusals hit real messages. Replies and bookings depend on how fast the machine is,
    # so they are reported, not asserted.
    accepted = result.stats["calls_accepted"]
    assert accepted >= 0.95 * SHORT.calls
    assert len(result.stats["permanent_refusals_hit"]) == SHORT.permanent_send_faults
    assert result.stats["first_sms_at_provider"] >= accepted - SHORT.permanent_send_faults
    # And the report says so, in both forms.
    assert result.report_path is not None
    assert result.report_path.exists()
    report = json.loads(result.report_path.with_suffix(".json").read_text())
    assert report["passed"] is True
    assert {fault["kind"] for fault in report["faults"]} >= CORE_FAULTS
    assert "postgres_outage" in result.report_path.read_text()
