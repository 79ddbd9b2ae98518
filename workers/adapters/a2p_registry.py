"""Compliance's ``CampaignRegistry`` port on the real ``twilio`` SDK (``TwilioGateway``)."""

from __future__ import annotations

from typing import Any

from domain.compliance.ports import ProviderCampaign, RegistryUnavailable
from workers.adapters.twilio_gateway import ProviderError, TwilioGateway


def _error_text(error: dict[str, Any]) -> str:
    # Twilio's campaign errors carry error_code and description (the brand resource spells the code "code").
    code = error.get("error_code", error.get("code"))
    description = error.get("description") or error.get("message") or "rejected"
    fields = error.get("fields")
    where = f" ({', '.join(str(field) for field in fields)})" if isinstance(fields, list) and fields else ""
    return f"{code}: {description}{where}" if code is not None else f"{description}{where}"


class TwilioCampaignRegistry:
    def __init__(self, gateway: TwilioGateway) -> None:
        self._gateway = gateway

    def fetch_campaign(self, *, messaging_service_sid: str, campaign_sid: str | None) -> ProviderCampaign | None:
        try:
            found = self._gateway.fetch_a2p_campaign(
                messaging_service_sid=messaging_service_sid, campaign_sid=campaign_sid
            )
        except ProviderError as error:
            # Whatever the cause (outage, auth, a service Twilio does not know), the verdict stays unknown.
            raise RegistryUnavailable(str(error)) from error
        if found is None:
            return None
        return ProviderCampaign(
            sid=found.sid,
            messaging_service_sid=found.messaging_service_sid,
            campaign_status=found.campaign_status,
            campaign_id=found.campaign_id,
            brand_registration_sid=found.brand_registration_sid,
            errors=tuple(_error_text(error) for error in found.errors),
            date_updated=found.date_updated,
        )
