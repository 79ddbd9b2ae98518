"""Reading a staff member's text to the business number as a command: pure, no I/O.

``K47 TAKE`` takes over the conversation of alert K47, ``K47 <text>`` sends the text to its caller, ``K47 BACK``
hands it back to the AI, ``HELP`` lists the commands. The code may be left out (``TAKE``, ``BACK``, plain text) and
then means the tenant's one open alert; which alert, and whether the member may, is the flow's business.

What looks like a code but is not one (``K4 TAKE``, ``#K470``) is never read as text for a caller: it is an unknown
command, so a mistyped code cannot forward anything by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from domain.conversations.models import ALERT_CODE_PATTERN

Verb = Literal["take", "text", "back", "help", "unknown"]

TAKE_WORDS = frozenset({"TAKE", "TAKEOVER", "TAKE OVER", "MINE"})
BACK_WORDS = frozenset({"BACK", "AI", "RELEASE", "HAND BACK"})
HELP_WORDS = frozenset({"HELP", "INFO", "COMMANDS", "?"})

_CODE = re.compile(ALERT_CODE_PATTERN)
# A letter and one to four digits, with or without '#': the shape of a code, valid or mistyped.
_CODE_LIKE = re.compile(r"^#?[A-Z][0-9]{1,4}$")


@dataclass(frozen=True)
class StaffCommand:
    verb: Verb
    code: str | None = None  # upper case, without '#'
    text: str = ""  # the words for the caller (``text``), or what could not be read (``unknown``)


def _word(value: str) -> str:
    return " ".join(value.upper().replace("-", " ").split()).strip(".!")


def parse_staff_command(body: str) -> StaffCommand:
    stripped = body.strip()
    first, _, rest = stripped.partition(" ")
    first_upper = first.upper()
    code: str | None = None
    if _CODE.match(first_upper.removeprefix("#")):
        code, stripped = first_upper.removeprefix("#"), rest.strip()
    elif _CODE_LIKE.match(first_upper):
        return StaffCommand("unknown", None, stripped)
    word = _word(stripped)
    if code is None:
        # The code after the verb ("TAKE K47") reads the same as before it.
        verb, _, last = word.rpartition(" ")
        if verb and _CODE.match(last.removeprefix("#")) and (verb in TAKE_WORDS or verb in BACK_WORDS):
            code, word = last.removeprefix("#"), verb
    if word in TAKE_WORDS:
        return StaffCommand("take", code)
    if word in BACK_WORDS:
        return StaffCommand("back", code)
    if word in HELP_WORDS:
        return StaffCommand("help", code)
    if not word:
        return StaffCommand("unknown", code)  # a bare code (or nothing) says nothing to do: never guess
    return StaffCommand("text", code, stripped)
