"""What compliance needs from the 10DLC provider: the carrier's verdict on one tenant's A2P campaign.

``workers/adapters/a2p_registry.py`` fills this in with the real ``twilio`` SDK; the domain never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class RegistryUnavailable(Exception):
    """The provider could not be asked (down, timed out, refused): ask again at the next poll."""


@dataclass(frozen=True)
class ProviderCampaign:
    """A US A2P campaign as the provider reports it (Twilio's ``campaign_status`` vocabulary, not ours)."""

    sid: str
    messaging_service_sid: str
    campaign_status: str
    campaign_id: str | None
    brand_registration_sid: str | None
    errors: tuple[str, ...]
    date_updated: datetime | None


class CampaignRegistry(Protocol):
    def fetch_campaign(self, *, messaging_service_sid: str, campaign_sid: str | None) -> ProviderCampaign | None:
        """The campaign ``campaign_sid`` of the messaging service, or (without a SID) the service's campaign;
        None when the provider has no such campaign."""
        ...
