"""Settings → Billing & 10DLC (read-only): the plan, the subscription as Stripe last reported it and the feature
gates it opens (``domain.identity`` gates, ``domain.billing``), and the 10DLC campaign's status from compliance; and
the settings overview. Nothing here is changed from the app: Stripe and the carrier's review are the sources."""

from __future__ import annotations

import falcon

from domain.billing import service as billing
from domain.catalog import service as catalog
from domain.compliance import service as compliance
from domain.identity import service as identity
from domain.scheduling import service as scheduling
from ingress.api.base import caller
from ingress.staff_app.settings.screen import SettingsScreen, owner_screen

CAMPAIGN_MEANING = {
    "approved": "Approved: texts to callers go out.",
    "pending": "Waiting for the carriers' review: calls are recorded and conversations opened, but no text leaves.",
    "rejected": "Rejected: no text leaves until the campaign is corrected and approved.",
}
GATE_LABELS = {
    "sms": "Texting callers",
    "ai_replies": "AI replies",
    "human_takeover": "Staff take-over",
    "scheduling": "Booking",
    "calendar_sync": "Calendar sync",
    "reporting": "Reports",
}


@owner_screen
class BillingResource(SettingsScreen):
    section = "billing"

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        tenant_id = caller(req).tenant_id
        with self.transaction(req) as session:
            gates = identity.gate_state(session, tenant_id)
            subscription = billing.subscription_for(session, tenant_id)
            status = compliance.compliance_status(session, tenant_id=tenant_id)
            sub = (
                None
                if subscription is None
                else {
                    "plan": subscription.plan,
                    "status": subscription.status,
                    "current_period_end": subscription.current_period_end,
                }
            )
        self.show(
            req,
            resp,
            "billing.html",
            gates=gates,
            subscription=sub,
            campaign=status,
            campaign_meaning=CAMPAIGN_MEANING.get(status.campaign_status, status.campaign_status),
            gate_labels=GATE_LABELS,
        )


@owner_screen
class OverviewResource(SettingsScreen):
    """GET /app/settings: each section with where it stands."""

    section = "overview"

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        tenant_id = caller(req).tenant_id
        with self.transaction(req) as session:
            items = catalog.list_service_items(session, tenant_id=tenant_id, active_only=True)
            resources = scheduling.list_resources(session, tenant_id=tenant_id)
            members = identity.list_members(session, tenant_id)
            gates = identity.gate_state(session, tenant_id)
            status = compliance.compliance_status(session, tenant_id=tenant_id)
        self.show(
            req,
            resp,
            "overview.html",
            active_items=len(items),
            technicians=len(resources),
            members=len(members),
            gates=gates,
            campaign=status,
        )
