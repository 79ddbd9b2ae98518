"""The Grafana dashboard, Prometheus config, alert rules and Alertmanager route: valid and tested with promtool and
amtool (`make test` installs both: deploy/ensure-services.sh), and every metric they name is one the code declares (a
live scrape of a running process checks the same names: tests/acceptance/test_metrics_live.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from db import metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "nmc.json"
REQUIRED_ALERTS = {
    "FirstSmsSloFastBurn",
    "FirstSmsSloSlowBurn",
    "OutboxLagHigh",
    "DeadLettersGrowing",
    "ForgedWebhookSpike",
    "DispatcherDown",
    "WorkersDown",
}
STANDARD = {"up"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool"}


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    """Series names a PromQL expression selects (not functions, keywords, label names or recording rules)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "{}", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    without_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_ranges)
    found = set()
    for token in re.findall(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*(?:\s*\()?", without_groupings):
        if token.rstrip().endswith("("):
            continue  # a function call
        token = token.strip()
        if token in PROMQL_WORDS or ":" in token:
            continue  # keywords, recording rules
        found.add(token)
    return found


def test_metric_name_extraction() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, handler) (rate(nmc_x_bucket{le="5.0",job=~"a"}[5m]))) / nmc:y > up'
    assert metric_names(expr) == {"nmc_x_bucket", "up"}


def test_every_metric_named_by_a_rule_or_panel_is_exported() -> None:
    known = metrics.exported_names() | STANDARD
    exprs = [rule["expr"] for rule in _rules()] + _dashboard_exprs()
    used = set().union(*(metric_names(expr) for expr in exprs))
    assert used - known == set()
    # The core ones really are used, so the check above is not vacuous.
    assert {"nmc_first_sms_latency_seconds_bucket", "nmc_outbox_oldest_age_seconds", "nmc_dlq_size", "up"} <= used
    assert {"nmc_ingress_request_seconds_bucket", "nmc_build_info"} <= used


def test_recording_rules_used_are_defined() -> None:
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    exprs = [rule["expr"] for rule in _rules()] + _dashboard_exprs()
    used = set().union(*(set(re.findall(r"\bnmc:[a-z0-9_:]+", expr)) for expr in exprs))
    assert used
    assert used <= recorded


def test_alert_rules_structure() -> None:
    alerts = {rule["alert"]: rule for rule in _rules() if "alert" in rule}
    assert set(alerts) >= REQUIRED_ALERTS
    for name, rule in alerts.items():
        assert rule["expr"].strip(), name
        assert rule["labels"]["severity"] in {"page", "ticket"}, name
        assert rule["annotations"]["summary"], name
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s")), name
    # Multi-window burn rate: each SLO alert needs a long and a short window.
    assert "rate1h" in alerts["FirstSmsSloFastBurn"]["expr"]
    assert "rate5m" in alerts["FirstSmsSloFastBurn"]["expr"]
    assert "rate6h" in alerts["FirstSmsSloSlowBurn"]["expr"]
    assert "rate30m" in alerts["FirstSmsSloSlowBurn"]["expr"]
    assert "> 60" in alerts["OutboxLagHigh"]["expr"]
    assert 'up{job="nmc-dispatcher"} == 0' in alerts["DispatcherDown"]["expr"]
    assert 'up{job="nmc-worker"} == 0' in alerts["WorkersDown"]["expr"]


def test_prometheus_scrapes_every_process_kind_the_alerts_watch() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"nmc-ingress", "nmc-dispatcher", "nmc-worker", "nmc-scheduler"} <= jobs
    assert config["rule_files"] == ["alerts.yml"]
    for rule in _rules():
        for job in re.findall(r'job="([^"]+)"', rule["expr"]):
            assert job in jobs


def test_dashboard_has_the_required_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = " | ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for needed in (
        "first sms latency vs 5 s slo",
        "outbox lag",
        "dead letters",
        "throughput",
        "webhook outcomes",
        "provider errors",
        "ingress latency",
    ):
        assert needed in titles
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    slo = next(panel for panel in dashboard["panels"] if panel["title"] == "First SMS latency vs 5 s SLO")
    assert "histogram_quantile(0.95" in slo["targets"][0]["expr"]
    steps = slo["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1]["value"] == metrics.SLO_FIRST_SMS_SECONDS
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "prometheus"


def test_grafana_provisioning_and_compose_snippet_agree() -> None:
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["uid"] == "prometheus"
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/nmc.yml").read_text())
    dashboards_path = provider["providers"][0]["options"]["path"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana_volumes = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{dashboards_path}:ro" in grafana_volumes
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana_volumes
    assert "./deploy/prometheus:/etc/prometheus:ro" in compose["services"]["prometheus"]["volumes"]


def test_prometheus_sends_alerts_to_the_alertmanager_compose_runs() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    targets = [t for am in config["alerting"]["alertmanagers"] for c in am["static_configs"] for t in c["targets"]]
    assert targets == ["alertmanager:9093"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "./deploy/alertmanager:/etc/alertmanager:ro" in compose["alertmanager"]["volumes"]
    assert all(port.startswith("127.0.0.1:") for port in compose["alertmanager"]["ports"])
    routes = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    receivers = {receiver["name"]: receiver for receiver in routes["receivers"]}
    assert routes["route"]["receiver"] in receivers
    assert all(route["receiver"] in receivers for route in routes["route"]["routes"])
    # The one receiver is pointed by a file the operator writes, never by a URL committed here.
    assert receivers["operators"]["webhook_configs"][0]["url_file"] == "/etc/alertmanager/webhook-url"
    ingress_job = next(job for job in config["scrape_configs"] if job["job_name"] == "nmc-ingress")
    assert ingress_job["static_configs"][0]["targets"] == ["ingress:9103"]  # the metrics bind, not the public port


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: apt-get install prometheus (deploy/ensure-services.sh does it for make test)"
    return found


def test_promtool_accepts_config_and_rules() -> None:
    promtool = _promtool()
    for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"]):
        result = subprocess.run([promtool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_fire_on_synthetic_series() -> None:
    """promtool's rule unit tests: burn-rate, lag, DLQ, forged and down alerts fire (and stay quiet when healthy)."""
    result = subprocess.run(
        [_promtool(), "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test_where_it_fires() -> None:
    document = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())
    cases = [case for test in document["tests"] for case in test.get("alert_rule_test", [])]
    fired = {case["alertname"] for case in cases if case.get("exp_alerts")}
    assert {rule["alert"] for rule in _rules() if "alert" in rule} - fired == set()


def _amtool() -> str:
    found = shutil.which("amtool")
    assert found, (
        "amtool is missing: apt-get install prometheus-alertmanager (deploy/ensure-services.sh does it for make test)"
    )
    return found


def _amtool_knows_webhook_url_file(amtool: str) -> bool:
    """Alertmanager reads a webhook's URL from a file since 0.26 (compose runs 0.27); Debian 12's amtool is 0.25."""
    version = subprocess.run([amtool, "--version"], capture_output=True, text=True, timeout=60)
    found = re.search(r"version (\d+)\.(\d+)", version.stdout + version.stderr)
    assert found, version.stdout + version.stderr
    return (int(found.group(1)), int(found.group(2))) >= (0, 26)


def _alertmanager_config(amtool: str, receiver: dict[str, Any] | None = None) -> dict[str, Any]:
    """deploy/alertmanager/alertmanager.yml as data, with ``receiver`` in place of the operators' body if given; for
    an amtool older than the webhook's ``url_file`` the URL file is read as the URL it will hold, nothing else."""
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER.read_text())
    (operators,) = config["receivers"]
    if receiver is not None:
        config["receivers"] = [{"name": operators["name"], **receiver}]
    elif not _amtool_knows_webhook_url_file(amtool):
        for webhook in operators.get("webhook_configs", []):
            webhook["url"] = "http://127.0.0.1:9/" if webhook.pop("url_file", None) else webhook["url"]
    return config


def _check_config(amtool: str, config: dict[str, Any], path: Path) -> None:
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _commented_receivers() -> dict[str, dict[str, Any]]:
    """The email, Slack and PagerDuty blocks left commented beside the webhook, each as the receiver body it is."""
    blocks: dict[str, list[str]] = {}
    current: str | None = None
    for line in ALERTMANAGER.read_text().splitlines():
        opening = re.fullmatch(r"    # (\w+_configs):\s*", line)
        if opening:
            current = opening.group(1)
            blocks[current] = [f"{current}:"]
        elif current and line.startswith("    #   "):
            blocks[current].append(line.removeprefix("    # "))
        else:
            current = None
    return {name: yaml.safe_load("\n".join(lines)) for name, lines in blocks.items()}


def test_amtool_accepts_the_alertmanager_config(tmp_path: Path) -> None:
    amtool = _amtool()
    _check_config(amtool, _alertmanager_config(amtool), tmp_path / "alertmanager.yml")


def test_each_commented_receiver_is_a_valid_swap_for_the_webhook(tmp_path: Path) -> None:
    """What the comments promise: uncommenting the email, Slack or PagerDuty block in its place is a valid config."""
    amtool = _amtool()
    receivers = _commented_receivers()
    assert set(receivers) == {"email_configs", "slack_configs", "pagerduty_configs"}
    for name, receiver in receivers.items():
        _check_config(amtool, _alertmanager_config(amtool, receiver), tmp_path / f"{name}.yml")


def test_every_alert_reaches_the_operators_and_a_page_takes_the_hourly_route(tmp_path: Path) -> None:
    amtool = _amtool()
    path = tmp_path / "alertmanager.yml"
    _check_config(amtool, _alertmanager_config(amtool), path)
    alerts = {rule["alert"]: rule["labels"]["severity"] for rule in _rules() if "alert" in rule}
    for name, severity in alerts.items():
        result = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={path}", "--tree", "--verify.receivers=operators",
             f"alertname={name}", f"severity={severity}"],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
        assert ('{severity="page"}' in result.stdout) == (severity == "page"), f"{name}: {result.stdout}"
