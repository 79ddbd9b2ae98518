"""The sandbox's US A2P (10DLC) campaigns: Twilio's Messaging v1 ``Compliance/Usa2p`` resource, and the reviewer.

Campaigns start ``IN_PROGRESS`` as a real one does after submission; a test or the demo plays the carrier's
reviewer through ``POST /sandbox/a2p/campaigns/{sid}`` (VERIFIED, FAILED with errors, ...), and the product learns
the verdict only by polling the Twilio-format endpoints with the ``twilio`` SDK.
"""

from __future__ import annotations

import re
import secrets
import string
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ops.sandbox.timestamps import iso8601

MESSAGING_BASE = "https://messaging.twilio.com/v1"
CAMPAIGN_STATUSES = ("PENDING", "IN_PROGRESS", "VERIFIED", "FAILED", "SUSPENDED", "EXPIRED")
USE_CASES = frozenset({"CUSTOMER_CARE", "MIXED", "LOW_VOLUME", "ACCOUNT_NOTIFICATION", "DELIVERY_NOTIFICATION"})
_MG = re.compile(r"^MG[0-9a-fA-F]{32}$")


class A2pError(ValueError):
    """A reviewer document the sandbox does not understand (answered with 400)."""


def _tcr_campaign_id() -> str:
    # The Campaign Registry's IDs: "C" and six upper-case letters or digits.
    return "C" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(6))


@dataclass
class A2pCampaign:
    sid: str
    account_sid: str
    messaging_service_sid: str
    brand_registration_sid: str
    use_case: str
    description: str
    campaign_status: str = "IN_PROGRESS"
    campaign_id: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def url(self) -> str:
        return f"{MESSAGING_BASE}/Services/{self.messaging_service_sid}/Compliance/Usa2p/{self.sid}"

    def resource(self) -> dict[str, Any]:
        """Twilio's UsAppToPerson resource JSON (the fields the product and the SDK read, and their neighbours)."""
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "brand_registration_sid": self.brand_registration_sid,
            "messaging_service_sid": self.messaging_service_sid,
            "description": self.description,
            "message_samples": [],
            "us_app_to_person_usecase": self.use_case,
            "has_embedded_links": False,
            "has_embedded_phone": False,
            "subscriber_opt_in": True,
            "age_gated": False,
            "direct_lending": False,
            "campaign_status": self.campaign_status,
            "campaign_id": self.campaign_id,
            "is_externally_registered": False,
            "rate_limits": {},
            "message_flow": None,
            "opt_in_message": None,
            "opt_out_message": None,
            "help_message": None,
            "opt_in_keywords": None,
            "opt_out_keywords": None,
            "help_keywords": None,
            "date_created": iso8601(self.created_at),
            "date_updated": iso8601(self.updated_at),
            "url": self.url,
            "mock": False,
            "errors": list(self.errors),
            "privacy_policy_url": None,
            "terms_and_conditions_url": None,
        }


def _errors(value: object) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise A2pError("errors must be a list of objects")
    errors = []
    for item in value:
        if not isinstance(item, dict):
            raise A2pError("errors must be a list of objects")
        code = item.get("error_code")
        if isinstance(code, bool) or not isinstance(code, int) or not 10_000 <= code <= 99_999:
            raise A2pError("errors[].error_code must be a five-digit Twilio error code")
        description = item.get("description", "")
        fields = item.get("fields", [])
        if not isinstance(description, str) or not isinstance(fields, list):
            raise A2pError("errors[].description must be text, errors[].fields a list")
        errors.append(
            {
                "error_code": code,
                "description": description,
                "fields": [str(name) for name in fields],
                "url": f"https://www.twilio.com/docs/api/errors/{code}",
            }
        )
    return errors


class A2pCampaigns:
    """Every campaign, behind one lock (the sandbox is one process with many threads)."""

    def __init__(self, account_sid: str) -> None:
        self._account_sid = account_sid
        self._lock = threading.Lock()
        self._campaigns: dict[str, A2pCampaign] = {}

    def create(self, document: dict[str, Any]) -> A2pCampaign:
        service = document.get("messaging_service_sid") or "MG" + secrets.token_hex(16)
        if not isinstance(service, str) or not _MG.match(service):
            raise A2pError("messaging_service_sid must look like MG followed by 32 hex digits")
        use_case = document.get("use_case", "CUSTOMER_CARE")
        if use_case not in USE_CASES:
            raise A2pError(f"use_case must be one of {', '.join(sorted(USE_CASES))}")
        description = document.get("description", "Missed-call follow-up and booking for customers who called")
        if not isinstance(description, str):
            raise A2pError("description must be text")
        campaign = A2pCampaign(
            sid="QE" + secrets.token_hex(16),
            account_sid=self._account_sid,
            messaging_service_sid=service,
            brand_registration_sid="BN" + secrets.token_hex(16),
            use_case=use_case,
            description=description,
        )
        with self._lock:
            # Twilio allows one A2P campaign per messaging service.
            if any(existing.messaging_service_sid == service for existing in self._campaigns.values()):
                raise A2pError(f"messaging service {service} already has a campaign")
            self._campaigns[campaign.sid] = campaign
        return campaign

    def review(self, sid: str, document: dict[str, Any]) -> A2pCampaign | None:
        """The carrier's reviewer moves a campaign; None when there is no such campaign."""
        status = document.get("campaign_status")
        if status not in CAMPAIGN_STATUSES:
            raise A2pError(f"campaign_status must be one of {', '.join(CAMPAIGN_STATUSES)}")
        errors = _errors(document.get("errors"))
        with self._lock:
            campaign = self._campaigns.get(sid)
            if campaign is None:
                return None
            campaign.campaign_status = status
            campaign.errors = errors
            if status == "VERIFIED" and campaign.campaign_id is None:
                campaign.campaign_id = _tcr_campaign_id()
            campaign.updated_at = datetime.now(UTC)
            return campaign

    def get(self, service: str, sid: str) -> A2pCampaign | None:
        with self._lock:
            campaign = self._campaigns.get(sid)
            return campaign if campaign is not None and campaign.messaging_service_sid == service else None

    def of_service(self, service: str) -> list[A2pCampaign]:
        with self._lock:
            return [c for c in self._campaigns.values() if c.messaging_service_sid == service]

    def all(self) -> list[A2pCampaign]:
        with self._lock:
            return list(self._campaigns.values())
