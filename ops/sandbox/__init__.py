"""The local world (``nmc sandbox``): a Twilio wire-format stand-in plus Clerk, Stripe, Google Calendar and Jobber
stand-ins."""

from ops.sandbox.app import Sandbox, build_sandbox, create_sandbox_app, refuse_live_mode

__all__ = ["Sandbox", "build_sandbox", "create_sandbox_app", "refuse_live_mode"]
