"""Reading a staff member's text as a command: codes, verbs, the code left out, and what is never guessed."""

from __future__ import annotations

import pytest

from domain.conversations.models import ALERT_CODE_DIGITS, ALERT_CODE_LETTERS
from domain.conversations.staff_commands import StaffCommand, parse_staff_command
from domain.conversations.store import new_alert_code


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("K47 TAKE", StaffCommand("take", "K47")),
        ("k47 take", StaffCommand("take", "K47")),
        ("#K47 take over", StaffCommand("take", "K47")),
        ("TAKE K47", StaffCommand("take", "K47")),
        ("  take.  ", StaffCommand("take", None)),
        ("K47 mine", StaffCommand("take", "K47")),
        ("K47 BACK", StaffCommand("back", "K47")),
        ("K47 ai", StaffCommand("back", "K47")),
        ("release", StaffCommand("back", None)),
        ("back #K47", StaffCommand("back", "K47")),
        ("HELP", StaffCommand("help", None)),
        ("?", StaffCommand("help", None)),
        ("K47 help", StaffCommand("help", "K47")),
        ("K47 Hi, this is Sam. I can come at 3.", StaffCommand("text", "K47", "Hi, this is Sam. I can come at 3.")),
        ("K47 take the left door", StaffCommand("text", "K47", "take the left door")),
        ("On my way", StaffCommand("text", None, "On my way")),
        ("K47", StaffCommand("unknown", "K47")),
        ("", StaffCommand("unknown", None)),
        ("   ", StaffCommand("unknown", None)),
    ],
)
def test_commands_are_read_from_the_text(body: str, command: StaffCommand) -> None:
    assert parse_staff_command(body) == command


@pytest.mark.parametrize("body", ["K4 TAKE", "K470 hello", "#Z99 take", "O11 back", "I22 hi there", "k1"])
def test_what_looks_like_a_code_but_is_not_one_is_never_text_for_a_caller(body: str) -> None:
    # A mistyped code must not forward the rest of the text to somebody's caller.
    assert parse_staff_command(body).verb == "unknown"


def test_codes_use_only_unambiguous_characters_and_parse_back() -> None:
    codes = {new_alert_code() for _ in range(2000)}
    assert len(codes) > 500  # random, spread over the 1,152 codes
    for code in codes:
        assert len(code) == 3
        assert code[0] in ALERT_CODE_LETTERS
        assert set(code[1:]) <= set(ALERT_CODE_DIGITS)
        assert parse_staff_command(f"{code.lower()} take") == StaffCommand("take", code)
    assert not set("IOSZ") & set(ALERT_CODE_LETTERS)
    assert not set("01") & set(ALERT_CODE_DIGITS)
