"""Opt-out words as people really type them: one table, each text with what the pipeline must make of it.

opt_out: consent revoked (keyword or clear request); opt_in / help: the carrier keywords; unclear_opt_out: the AI goes
quiet and a person decides; none: an ordinary text for the AI.
"""

from __future__ import annotations

import time

import pytest

from domain.compliance.keywords import InboundKind, classify_inbound, match_inbound, normalise

TABLE: list[tuple[str, InboundKind]] = [
    # --- Twilio's keywords, exactly and as phones and people decorate them ------------------------------------------
    ("STOP", "opt_out"),
    ("stop", "opt_out"),
    ("  Stop \n", "opt_out"),
    ("STOP.", "opt_out"),
    ("Stop!", "opt_out"),
    ("STOP!!!", "opt_out"),
    ("stop?", "opt_out"),
    ("STOP 🛑", "opt_out"),
    ("🛑STOP🛑", "opt_out"),
    ("\u200bSTOP", "opt_out"),
    ("S\u200dTOP\u2060", "opt_out"),
    ("\ufeffstop", "opt_out"),
    ("ＳＴＯＰ", "opt_out"),
    ("𝐒𝐓𝐎𝐏", "opt_out"),
    ("\u00a0STOP\u3000", "opt_out"),
    ('"STOP"', "opt_out"),
    ("*STOP*", "opt_out"),
    ("(stop)", "opt_out"),
    ("STOP 👍🏽", "opt_out"),
    ("StopAll", "opt_out"),
    ("unsubscribe.", "opt_out"),
    ("Cancel", "opt_out"),  # Twilio blocks a bare CANCEL even mid-booking; see keywords.py
    ("END", "opt_out"),
    ("Quit!", "opt_out"),
    ("revoke", "opt_out"),
    ("OPTOUT", "opt_out"),
    ("opt-out", "opt_out"),
    ("Opt out", "opt_out"),
    ("STOP ALL", "opt_out"),
    ("stop please", "opt_out"),
    ("Please stop.", "opt_out"),
    ("STOP STOP STOP", "opt_out"),
    ("stop it", "opt_out"),
    ("START", "opt_in"),
    ("Start.", "opt_in"),
    ("unstop", "opt_in"),
    ("Yes!", "opt_in"),
    ("yes 👍", "opt_in"),
    ("ＹＥＳ", "opt_in"),
    ("HELP", "help"),
    ("help?", "help"),
    ("Info.", "help"),
    # --- clear requests in words (FCC "reasonable means"): English ---------------------------------------------------
    ("please stop texting me", "opt_out"),
    ("Stop texting me", "opt_out"),
    ("STOP TEXTING ME!!!", "opt_out"),
    ("stop texting me 😡", "opt_out"),
    ("Stop sending me messages", "opt_out"),
    ("Please stop messaging this number", "opt_out"),
    ("unsubscribe me", "opt_out"),
    ("Please unsubscribe me, thanks", "opt_out"),
    ("remove me from your list", "opt_out"),
    ("Take me off your list please", "opt_out"),
    ("don't text me", "opt_out"),
    ("Don\u2019t text me again", "opt_out"),
    ("Do not contact me", "opt_out"),
    ("no more texts please", "opt_out"),
    ("I don't want these messages", "opt_out"),
    ("I want to opt out", "opt_out"),
    ("opt me out", "opt_out"),
    ("Hi, I already got it fixed. Please stop texting me.", "opt_out"),
    ("can you stop texting me", "opt_out"),
    # --- clear requests in words: Spanish (accents or none) -------------------------------------------------------
    ("alto", "opt_out"),
    ("¡ALTO!", "opt_out"),
    ("Alto por favor", "opt_out"),
    ("basta", "opt_out"),
    ("ya basta", "opt_out"),
    ("baja", "opt_out"),
    ("no más mensajes", "opt_out"),
    ("no mas mensajes", "opt_out"),
    ("No quiero más mensajes", "opt_out"),
    ("ya no me manden mensajes", "opt_out"),
    ("Ya no me envíen mensajes por favor", "opt_out"),
    ("no me escriban más", "opt_out"),
    ("dejen de mandarme mensajes", "opt_out"),
    ("Quítenme de su lista", "opt_out"),
    ("quiero darme de baja", "opt_out"),
    ("Para de mandarme mensajes", "opt_out"),
    ("basta de mensajes", "opt_out"),
    # --- sounds like it, but unclear: a person decides, the AI stays quiet ------------------------------------------
    ("I don't want these", "unclear_opt_out"),
    ("leave me alone", "unclear_opt_out"),
    ("Leave me alone!!", "unclear_opt_out"),
    ("not interested", "unclear_opt_out"),
    ("Stop. I fixed it myself.", "unclear_opt_out"),
    ("STOP! who is this", "unclear_opt_out"),
    ("please cancel", "unclear_opt_out"),
    ("why did you stop texting me", "unclear_opt_out"),
    ("please don't stop texting me", "unclear_opt_out"),
    ("don't text me before 9am", "unclear_opt_out"),
    ("para", "unclear_opt_out"),
    ("déjame en paz", "unclear_opt_out"),
    ("no me interesa", "unclear_opt_out"),
    ("how did you get my number?", "unclear_opt_out"),
    ("stop calling me", "unclear_opt_out"),
    ("enough", "unclear_opt_out"),
    # --- ordinary texts: the AI answers them ------------------------------------------------------------------------
    ("stop by tomorrow?", "none"),
    ("Can you stop by tomorrow?", "none"),
    ("can you stop the leak", "none"),
    ("don't stop", "none"),
    ("cancel my appointment", "none"),
    ("I need to cancel my appointment", "none"),
    ("Can I cancel?", "none"),
    ("end of the day works", "none"),
    ("the water won't stop", "none"),
    ("There's a stop sign by my driveway", "none"),
    ("yes please", "none"),
    ("Yes, book it", "none"),
    ("the first one works", "none"),
    ("help me with my sink", "none"),
    ("Can I get info on prices?", "none"),
    ("start time?", "none"),
    ("stopped working yesterday", "none"),
    ("no", "none"),
    ("¿Cuánto cuesta para mañana?", "none"),
    ("mi calentador no para de gotear", "none"),
    ("para mañana?", "none"),
    ("", "none"),
    ("🛑", "none"),
    ("\u200b", "none"),
]


@pytest.mark.parametrize(("text", "expected"), TABLE)
def test_each_text_is_classified_as_a_person_meant_it(text: str, expected: InboundKind) -> None:
    assert classify_inbound(text) == expected


def test_the_table_is_large_and_has_no_duplicate_rows() -> None:
    texts = [text for text, _ in TABLE]
    assert len(TABLE) >= 60
    assert len(set(texts)) == len(texts)
    assert {kind for _, kind in TABLE} == {"opt_out", "opt_in", "help", "unclear_opt_out", "none"}


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("  ＳＴＯＰ 🛑 ", "stop"),
        ("\u200b¡No Más Mensajes!\u200d", "no mas mensajes"),
        ("Stop,\n\n   please", "stop, please"),
        ("Don\u2019t  text\tme", "don't text me"),
    ],
)
def test_the_normaliser_folds_width_case_accents_spacing_and_what_surrounds_the_words(
    text: str, normalised: str
) -> None:
    assert normalise(text) == normalised


def test_what_is_recorded_is_the_keyword_or_the_normalised_phrase() -> None:
    assert match_inbound("Stop!").keyword == "STOP"
    assert match_inbound("¡No más mensajes!").keyword == "NO MAS MENSAJES"
    assert match_inbound("can you stop by?").keyword is None
    assert len(match_inbound("please stop texting me " + "x" * 500).keyword or "") == 160


@pytest.mark.parametrize(
    "text",
    ["stop now " * 176 + "x", "please " * 228 + "x", "stop it now ya " * 106 + "x", "🛑" * 1600, "\u200b" * 1599 + "s"],
)
def test_a_hostile_text_of_twilios_maximum_length_is_classified_quickly(text: str) -> None:
    assert len(text) <= 1600  # Twilio's longest inbound body
    started = time.perf_counter()
    classify_inbound(text)
    assert time.perf_counter() - started < 0.5  # patterns that backtrack exponentially would take far longer
