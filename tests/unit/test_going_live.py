"""docs/going-live.md names what the code really needs from the providers: every Twilio webhook route, every Stripe
event the billing handler acts on, the 10DLC keywords the compliance gate honours, and commands that exist."""

from __future__ import annotations

import re
from pathlib import Path

from domain.billing.service import HANDLED_EVENTS
from domain.compliance.keywords import HELP_KEYWORDS, OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS
from ops.cli import _register, cli

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "going-live.md").read_text()
APP = (ROOT / "ingress" / "app.py").read_text()


def test_every_twilio_webhook_route_is_in_the_guide_and_every_url_it_names_exists() -> None:
    routes = set(re.findall(r'"(/webhooks/twilio/[a-z/]+)"', APP))
    assert routes == {"/webhooks/twilio/voice", "/webhooks/twilio/voice/status", "/webhooks/twilio/sms",
                      "/webhooks/twilio/sms/status"}  # fmt: skip
    named = set(re.findall(r"(/webhooks/[a-z/]+[a-z])(?![a-z/])", GUIDE))  # not "/webhooks/twilio/…"
    for route in routes:
        assert route in named, f"docs/going-live.md does not say where Twilio sends {route}"
    everything = set(re.findall(r'"(/webhooks/[a-z/]+)"', APP)) | {"/webhooks/google/calendar"}
    assert named - everything == set(), "docs/going-live.md names a webhook URL the ingress does not serve"


def test_every_stripe_event_the_billing_handler_acts_on_is_one_to_enable() -> None:
    stripe = GUIDE[GUIDE.index("## 5. Stripe") :]
    for event in HANDLED_EVENTS:
        assert f"`{event}`" in stripe, f"docs/going-live.md does not ask to enable {event}"


def test_the_campaign_section_has_use_case_samples_opt_in_and_every_keyword() -> None:
    campaign = GUIDE[GUIDE.index("## 3. The 10DLC campaign") : GUIDE.index("## 4.")]
    for heading in ("**Use case**", "**Sample messages**", "**Message flow / opt-in**"):
        assert heading in campaign
    for keyword in OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS | HELP_KEYWORDS:
        assert re.search(rf"\b{keyword}\b", campaign), f"the campaign section leaves out {keyword}"


def test_the_commands_the_guide_runs_exist() -> None:
    if "doctor" not in cli.commands:
        _register()
    named = set(re.findall(r"`nmc ([a-z-]+)", GUIDE))
    assert {"doctor", "migrate", "status", "campaign", "calendar"} <= named
    assert named - set(cli.commands) == set()
