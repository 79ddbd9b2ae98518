"""Carrier keywords: a whole message body, trimmed and case-insensitive, is a keyword or it is not.

Pure functions, no I/O: the inbound pipeline calls them before anything else sees the message.
"""

from __future__ import annotations

import re
from typing import Literal

InboundKind = Literal["opt_out", "opt_in", "help", "none"]

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

# Not a carrier keyword, but a person asking us to stop: a human must look, and the AI must go quiet.
_SOFT_STOP = re.compile(
    r"\b(stop|quit|cease)\s+(texting|messaging|sending|contacting)\b|\bdon'?t\s+(text|message|contact)\s+me\b"
    r"|\bleave\s+me\s+alone\b|\bunsubscribe\b|\bremove\s+me\b|\bno\s+more\s+(texts|messages)\b",
    re.IGNORECASE,
)


def normalise_keyword(body: str) -> str:
    return body.strip().upper()


def classify_inbound(body: str) -> InboundKind:
    word = normalise_keyword(body)
    if word in OPT_OUT_KEYWORDS:
        return "opt_out"
    if word in OPT_IN_KEYWORDS:
        return "opt_in"
    if word in HELP_KEYWORDS:
        return "help"
    return "none"


def is_soft_stop(body: str) -> bool:
    """A request to stop in words ("please stop texting me"): hand to a human, never treated as a keyword."""
    return classify_inbound(body) == "none" and bool(_SOFT_STOP.search(body))
