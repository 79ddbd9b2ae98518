"""Adapters to the outside world (providers), built on their real SDKs and configured by Settings."""

from workers.adapters.twilio_gateway import ProviderError, ProviderMessage, SentMessage, TwilioGateway

__all__ = ["ProviderError", "ProviderMessage", "SentMessage", "TwilioGateway"]
