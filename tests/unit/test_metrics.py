"""The metric registry and multiprocess aggregation (children in subprocesses, as gunicorn/Dramatiq run them)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from db import metrics

ROOT = Path(__file__).resolve().parents[2]

REQUIRED = {
    "nmc_first_sms_latency_seconds",
    "nmc_webhooks_total",
    "nmc_outbox_pending",
    "nmc_outbox_oldest_age_seconds",
    "nmc_outbox_dispatched_total",
    "nmc_deliveries_total",
    "nmc_delivery_retries_total",
    "nmc_delivery_group_fallbacks_total",
    "nmc_dlq_size",
    "nmc_messages_total",
    "nmc_provider_errors_total",
    "nmc_holds_total",
    "nmc_appointments_total",
    "nmc_ai_turns_total",
    "nmc_handler_duration_seconds",
    "nmc_commit_to_handler_seconds",
}


def test_every_agreed_metric_is_defined_and_exported() -> None:
    names = metrics.exported_names()
    assert names >= REQUIRED
    assert "nmc_first_sms_latency_seconds_bucket" in names


def test_first_sms_buckets_resolve_50ms_and_the_5s_slo_edge() -> None:
    assert 0.05 in metrics.FIRST_SMS_BUCKETS
    assert metrics.SLO_FIRST_SMS_SECONDS in metrics.FIRST_SMS_BUCKETS
    body, content_type = metrics.render_metrics()
    assert content_type.startswith("text/plain")
    assert b'nmc_first_sms_latency_seconds_bucket{le="5.0"}' in body


CHILD = textwrap.dedent(
    """
    import sys
    from db import metrics
    from db.settings import Settings
    settings = Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": sys.argv[1]})
    metrics.configure_multiprocess(settings, "ingress")
    metrics.WEBHOOKS.labels("twilio", "sms", "accepted").inc(int(sys.argv[2]))
    metrics.FIRST_SMS_LATENCY.observe(float(sys.argv[3]))
    metrics.OUTBOX_PENDING.set(int(sys.argv[2]))
    """
)

PARENT = textwrap.dedent(
    """
    import sys
    from db import metrics
    from db.settings import Settings
    settings = Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": sys.argv[1]})
    body, _ = metrics.render_metrics(settings, "ingress")
    sys.stdout.write(body.decode())
    """
)


def _run(code: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


def test_multiprocess_children_are_summed(tmp_path: Path) -> None:
    from db.settings import Settings

    settings = Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    assert metrics.reset_multiprocess_dir(settings, "ingress") == tmp_path / "ingress"
    _run(CHILD, str(tmp_path), "2", "0.04")
    _run(CHILD, str(tmp_path), "3", "7.5")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(_run(PARENT, str(tmp_path)))
        for sample in family.samples
    }
    labels = (("kind", "sms"), ("outcome", "accepted"), ("provider", "twilio"))
    assert samples[("nmc_webhooks_total", labels)] == 5
    assert samples[("nmc_first_sms_latency_seconds_count", ())] == 2
    assert samples[("nmc_first_sms_latency_seconds_bucket", (("le", "0.05"),))] == 1
    assert samples[("nmc_first_sms_latency_seconds_bucket", (("le", "5.0"),))] == 1
    # A gauge set by one process kind is the most recent write, not a sum over children.
    assert samples[("nmc_outbox_pending", ())] == 3
    # Another process kind's directory is separate: nothing of the ingress leaks into the worker's /metrics.
    assert not (tmp_path / "worker").exists()
