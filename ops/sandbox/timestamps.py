"""Timestamps as the providers' APIs write them: UTC, whole seconds, a trailing Z (Twilio's Messaging v1, Google
Calendar, Jobber)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso8601(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso8601(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
