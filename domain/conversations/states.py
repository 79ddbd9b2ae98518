"""The states a conversation and a message can be in: what the tables check and what the API documents."""

CONVERSATION_STATES = ("open", "human", "closed", "blocked")
# The live states: a caller has at most one conversation in them, and only they can be taken over, closed or blocked.
LIVE_STATES = ("open", "human")
LIVE_STATE_PREDICATE = f"state IN {LIVE_STATES!r}"
MESSAGE_STATUSES = ("received", "pending", "queued", "sent", "delivered", "undelivered", "failed", "blocked")
