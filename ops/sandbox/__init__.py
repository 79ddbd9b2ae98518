"""The local phone network: a Twilio wire-format stand-in plus Clerk and Stripe stand-ins (``nmc sandbox``)."""

from ops.sandbox.app import Sandbox, build_sandbox, create_sandbox_app, refuse_live_mode

__all__ = ["Sandbox", "build_sandbox", "create_sandbox_app", "refuse_live_mode"]
