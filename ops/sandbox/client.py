"""The one client of the sandbox's own HTTP API (``/sandbox/...``): what the simulated world does and saw.

A caller rings a number (a missed call), texts it, and reads what the business sent back (and wrote back to the
technician's calendar); a test or a chaos run arms provider faults. `nmc demo`, chaos, soak, the end-to-end
benchmark and the tests all go through this class, so the paths and documents of that API are written down once.
Requests return the provider's answer as it came (status and body are the caller's to judge: a chaos caller
retries, the demo stops), except the reads, which raise on an error status since a failed read has no meaningful
body.
"""

from __future__ import annotations

from typing import Any

import httpx


class SandboxClient:
    """Over ``http`` (a pooled client, closed with this one) or, without one, a connection per request."""

    def __init__(self, url: str, *, http: httpx.Client | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = http
        self._timeout = timeout

    def __enter__(self) -> SandboxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled client given (it is this client's from then on); nothing to close without one."""
        if self._http is not None:
            self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._http is None:
            return httpx.request(method, self.url + path, timeout=self._timeout, **kwargs)
        return self._http.request(method, self.url + path, **kwargs)

    # --- the caller's phone -------------------------------------------------------------------------------------

    def call(self, caller: str, to: str, *, answered: bool = False, dial_status: str = "no-answer") -> httpx.Response:
        """``caller`` rings ``to``; unanswered by default (the forward rings out): a missed call."""
        document = {"from": caller, "to": to, "answered": answered, "dial_status": dial_status}
        return self._request("POST", "/sandbox/calls", json=document)

    def call_out(
        self, number: str, customer: str, *, answered: bool = True, status_callback: bool = True
    ) -> httpx.Response:
        """Staff call ``customer`` from the tenant's ``number`` through Twilio (a callback); with ``status_callback``
        Twilio reports it to the voice status route, else it shows only in Twilio's call list."""
        document = {"from": number, "to": customer, "answered": answered, "status_callback": status_callback}
        return self._request("POST", "/sandbox/calls/outbound", json=document)

    def sms(self, caller: str, to: str, body: str) -> httpx.Response:
        """``caller`` texts ``body`` to ``to``."""
        return self._request("POST", "/sandbox/sms", json={"from": caller, "to": to, "body": body})

    def messages(
        self, *, to: str | None = None, sender: str | None = None, since: str | None = None
    ) -> list[dict[str, Any]]:
        """The messages the provider carried, oldest first: to a number, from one, or created since an ISO time."""
        wanted = {"to": to, "from": sender, "since": since}
        response = self._request("GET", "/sandbox/messages", params={k: v for k, v in wanted.items() if v is not None})
        response.raise_for_status()
        return list(response.json()["messages"])

    # --- the calendar stand-ins ---------------------------------------------------------------------------------

    def calendars(self) -> dict[str, Any]:
        """What was written back: ``{"google": {calendar id: [events]}, "jobber": [visits]}``."""
        response = self._request("GET", "/sandbox/calendars")
        response.raise_for_status()
        return dict(response.json())

    def clear_calendars(self) -> dict[str, Any]:
        response = self._request("DELETE", "/sandbox/calendars")
        response.raise_for_status()
        return dict(response.json())

    # --- provider faults ----------------------------------------------------------------------------------------

    def arm(self, document: dict[str, Any]) -> dict[str, Any]:
        """Arm provider faults (see the sandbox's /sandbox/faults); returns the faults now armed."""
        response = self._request("POST", "/sandbox/faults", json=document)
        response.raise_for_status()
        return dict(response.json())

    def faults(self) -> dict[str, Any]:
        response = self._request("GET", "/sandbox/faults")
        response.raise_for_status()
        return dict(response.json())

    def clear_faults(self) -> dict[str, Any]:
        response = self._request("DELETE", "/sandbox/faults")
        response.raise_for_status()
        return dict(response.json())
