"""The product's one door to Twilio: the real ``twilio`` SDK, optionally pointed at another base URL.

With ``TWILIO_API_BASE_URL`` empty the SDK talks to Twilio as shipped; otherwise every request to
``https://api.twilio.com`` (Messages) and ``https://messaging.twilio.com`` (US A2P campaigns) is rewritten to that
base (the local sandbox serves both), so a real account is a configuration change.
Provider failures come out as ``ProviderError`` already classified for the retry policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError

from db.settings import Settings

TWILIO_API = "https://api.twilio.com"
TWILIO_MESSAGING = "https://messaging.twilio.com"
# The Twilio domains the SDK calls; their paths do not overlap (/2010-04-01/... and /v1/...), so one base serves all.
TWILIO_DOMAINS = (TWILIO_API, TWILIO_MESSAGING)

# Twilio error codes with a fixed meaning for the retry policy.
OPTED_OUT = 21610  # the recipient texted STOP: never retry, record an opt-out
RETRYABLE_CODES = frozenset({20429, 30003})  # rate limited; unreachable handset (often transient)
PERMANENT_CODES = frozenset({21211, 21212, 21602, 21603, 21604, 21614, 30005, 30006, 30007, 20404})


class ProviderError(Exception):
    """A failed provider call, classified. ``http_status`` 0 means no HTTP answer (connect/read failure)."""

    def __init__(
        self,
        *,
        code: int | None,
        http_status: int,
        message: str,
        retryable: bool,
        opted_out: bool = False,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(f"twilio {http_status or 'no answer'} code={code}: {message}")
        self.code = code
        self.http_status = http_status
        self.message = message
        self.retryable = retryable
        self.opted_out = opted_out
        # True when the request may have reached Twilio (read timeout): look the message up before resending.
        self.ambiguous = ambiguous


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str
    num_segments: int


@dataclass(frozen=True)
class A2pCampaign:
    """A US A2P (10DLC) campaign resource: Messaging v1 ``/Services/{MG}/Compliance/Usa2p/{QE}``."""

    sid: str
    messaging_service_sid: str
    campaign_status: str
    campaign_id: str | None
    brand_registration_sid: str | None
    errors: tuple[dict[str, Any], ...]
    date_updated: datetime | None


@dataclass(frozen=True)
class ProviderMessage:
    sid: str
    status: str
    error_code: int | None
    error_message: str | None
    to: str | None
    from_: str | None
    body: str | None
    direction: str | None
    num_segments: int | None
    date_created: datetime | None
    date_sent: datetime | None
    date_updated: datetime | None


@dataclass(frozen=True)
class ProviderCall:
    """One Call resource of Twilio's Calls list (``/2010-04-01/Accounts/{sid}/Calls.json``)."""

    sid: str
    parent_call_sid: str | None
    from_: str | None
    to: str | None
    status: str
    direction: str | None
    start_time: datetime | None
    duration: int | None


def classify(code: int | None, http_status: int, message: str) -> ProviderError:
    if code == OPTED_OUT:
        return ProviderError(code=code, http_status=http_status, message=message, retryable=False, opted_out=True)
    if code in PERMANENT_CODES:
        retryable = False
    else:
        retryable = http_status == 429 or http_status >= 500 or code in RETRYABLE_CODES
    return ProviderError(code=code, http_status=http_status, message=message, retryable=retryable)


class RebasedHttpClient(TwilioHttpClient):
    """TwilioHttpClient that sends Twilio's API domains to ``base_url``, with split connect/read timeouts."""

    def __init__(
        self, base_url: str, *, connect_timeout: float = 2.0, read_timeout: float = 5.0, pool_size: int = 32
    ) -> None:
        super().__init__(pool_connections=True)
        self.base_url = base_url.rstrip("/")
        # requests takes a (connect, read) pair; the SDK passes self.timeout through untouched.
        self.timeout = (connect_timeout, read_timeout)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if self.base_url:
            for domain in TWILIO_DOMAINS:
                if url.startswith(domain):
                    url = self.base_url + url[len(domain) :]
                    break
        response: Response = super().request(method, url, params, data, headers, auth, timeout, allow_redirects)
        return response

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


class TwilioGateway:
    def __init__(self, settings: Settings, *, connect_timeout: float = 2.0, read_timeout: float = 5.0) -> None:
        self._account_sid = settings.twilio_account_sid
        self._http = RebasedHttpClient(
            settings.twilio_api_base_url, connect_timeout=connect_timeout, read_timeout=read_timeout
        )
        self._client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(), http_client=self._http
        )

    @property
    def _messages(self) -> Any:
        return self._client.api.v2010.accounts(self._account_sid).messages

    def send(self, *, to: str, from_: str, body: str, status_callback: str | None = None) -> SentMessage:
        options: dict[str, Any] = {"to": to, "from_": from_, "body": body}
        if status_callback:
            options["status_callback"] = status_callback
        instance = self._call(lambda: self._messages.create(**options))
        return SentMessage(sid=instance.sid, status=instance.status, num_segments=_int(instance.num_segments) or 1)

    def fetch(self, sid: str) -> ProviderMessage:
        return _provider_message(self._call(lambda: self._messages(sid).fetch()))

    def list_messages(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        date_sent_after: datetime | None = None,
        page_size: int = 1000,
    ) -> list[ProviderMessage]:
        """Every matching message, newest first (the SDK follows next_page_uri)."""
        filters: dict[str, Any] = {"page_size": page_size}
        if to:
            filters["to"] = to
        if from_:
            filters["from_"] = from_
        if date_sent_after is not None:
            filters["date_sent_after"] = date_sent_after
        return [_provider_message(item) for item in self._call(lambda: self._messages.list(**filters))]

    def list_calls(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        parent_call_sid: str | None = None,
        start_time_after: datetime | None = None,
        limit: int = 50,
    ) -> list[ProviderCall]:
        """Calls matching the filters, newest first (``StartTime>`` is a date filter on Twilio's side)."""
        filters: dict[str, Any] = {"limit": limit, "page_size": limit}
        if to:
            filters["to"] = to
        if from_:
            filters["from_"] = from_
        if parent_call_sid:
            filters["parent_call_sid"] = parent_call_sid
        if start_time_after is not None:
            filters["start_time_after"] = start_time_after
        calls = self._client.api.v2010.accounts(self._account_sid).calls
        return [_provider_call(item) for item in self._call(lambda: calls.list(**filters))]

    def fetch_a2p_campaign(self, *, messaging_service_sid: str, campaign_sid: str | None) -> A2pCampaign | None:
        """The service's US A2P campaign ``campaign_sid`` (or, without one, the service's first); None if none.

        A messaging service carries at most one A2P campaign, so listing it finds the campaign's SID.
        """
        campaigns = self._client.messaging.v1.services(messaging_service_sid).us_app_to_person
        if campaign_sid is not None:
            try:
                return _a2p_campaign(self._call(lambda: campaigns(campaign_sid).fetch()))
            except ProviderError as error:
                if error.http_status == 404:
                    return None
                raise
        listed = self._call(lambda: campaigns.list(limit=1))
        return _a2p_campaign(listed[0]) if listed else None

    def close(self) -> None:
        self._http.close()

    @staticmethod
    def _call(operation: Any) -> Any:
        try:
            return operation()
        except TwilioRestException as error:
            code = error.code if isinstance(error.code, int) else None
            raise classify(code, error.status, error.msg) from error
        except TwilioServiceException as error:
            raise classify(error.code, error.status, error.title) from error
        except TwilioException as error:  # a later page answered non-200
            status = getattr(error.args[1], "status_code", 0) if len(error.args) > 1 else 0
            raise classify(None, status, str(error.args[0]) if error.args else "twilio error") from error
        except requests.ConnectionError as error:
            # A refused or timed-out connect never reached Twilio; a dropped connection might have.
            reason = getattr(error.args[0], "reason", None) if error.args else None
            never_sent = isinstance(error, requests.ConnectTimeout) or isinstance(reason, ConnectTimeoutError)
            raise ProviderError(
                code=None, http_status=0, message=str(error), retryable=True, ambiguous=not never_sent
            ) from error
        except requests.Timeout as error:
            raise ProviderError(
                code=None, http_status=0, message=f"timed out: {error}", retryable=True, ambiguous=True
            ) from error


def _int(value: object) -> int | None:
    try:
        return None if value is None else int(str(value))
    except ValueError:
        return None


def _a2p_campaign(instance: Any) -> A2pCampaign:
    errors = instance.errors if isinstance(instance.errors, list) else []
    return A2pCampaign(
        sid=instance.sid,
        messaging_service_sid=instance.messaging_service_sid,
        campaign_status=instance.campaign_status,
        campaign_id=instance.campaign_id,
        brand_registration_sid=instance.brand_registration_sid,
        errors=tuple(error for error in errors if isinstance(error, dict)),
        date_updated=instance.date_updated,
    )


def _provider_call(instance: Any) -> ProviderCall:
    return ProviderCall(
        sid=instance.sid,
        parent_call_sid=instance.parent_call_sid,
        from_=instance._from,  # the SDK's CallInstance keeps "from" as _from
        to=instance.to,
        status=str(instance.status or ""),
        direction=instance.direction,
        start_time=instance.start_time,
        duration=_int(instance.duration),
    )


def _provider_message(instance: Any) -> ProviderMessage:
    return ProviderMessage(
        sid=instance.sid,
        status=instance.status,
        error_code=_int(instance.error_code),
        error_message=instance.error_message,
        to=instance.to,
        from_=instance.from_,
        body=instance.body,
        direction=instance.direction,
        num_segments=_int(instance.num_segments),
        date_created=instance.date_created,
        date_sent=instance.date_sent,
        date_updated=instance.date_updated,
    )
