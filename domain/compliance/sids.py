"""Twilio's SID shapes a campaign names: a Messaging Service (MG…) and its US A2P campaign (QE…).

Checked twice with the same pattern: by Postgres on ``comp_campaigns`` and by the CLI before it asks.
"""

MESSAGING_SERVICE_SID_PATTERN = r"^MG[0-9a-fA-F]{32}$"
A2P_CAMPAIGN_SID_PATTERN = r"^QE[0-9a-fA-F]{32}$"
