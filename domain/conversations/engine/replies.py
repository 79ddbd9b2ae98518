"""What a short reply to the engine's own question looks like, read the same by every engine and stand-in.

A reply of only these words answers the last question ("the 2nd please", "si, esa") and names no service; a change
of mind ("actually", "en vez de") may switch the service mid-booking; after a list of times "the 2nd" is the second
time, unless the text says a date outright ("the 2nd of april", "4/2", "el 2 de abril").
"""

from __future__ import annotations

import re

from domain.conversations.engine.dates import MONTHS

REPLY_WORDS = frozenset(
    {
        "yes", "yeah", "yep", "sure", "ok", "no", "the", "first", "second", "third", "last", "one", "two", "three",
        "1", "2", "3", "1st", "2nd", "3rd", "#1", "#2", "#3", "option", "number", "please", "thanks", "that", "works",
        "great", "perfect", "sounds", "good", "cool", "fine", "is", "it", "for", "me", "go", "ahead", "do", "book",
        "thank", "you", "lol", "!", "?", "alright", "thing", "confirm", "none", "of", "those", "work", "neither",
        "si", "la", "el", "primera", "primero", "segunda", "segundo", "tercera", "tercero", "ultima", "ultimo", "esa",
        "ese", "eso", "esta", "bien", "de", "acuerdo", "claro", "perfecto", "gracias", "por", "favor", "vale", "dale",
        "listo", "bueno", "opcion", "numero", "uno", "dos", "tres", "sirve", "ninguna", "ninguno", "muchas",
        "correcto", "sale", "adelante", "hora", "una", "parece",
    }
)  # fmt: skip


CHANGE_OF_MIND = re.compile(
    r"\b(?:actually|instead|make it|change (?:it|that)|switch|rather|wait|not the|i meant|i mean|"
    r"en vez de|en lugar de|mejor (?:un|una|el|la)|quise decir|me equivoque|cambiar a)\b"
)
ORDINAL_DAY = re.compile(r"\bthe (?:\d{1,2})(?:st|nd|rd|th)\b|\b\d(?:st|nd|rd|th)\b")
CLEAR_DATE = re.compile(
    r"\b\d{1,2}(?:st|nd|rd|th)? of\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d|\d/\d"
    r"|\b\d{1,2} de (?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|sep?tiembre|octubre|noviembre|diciembre)\b"
)


# A date said outright ("the 2nd of april", "april 2nd", "4/2", "el 2 de abril"): its number is a day, not a pick.
_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE_SAID = re.compile(
    rf"\b(?:the )?\d{{1,2}}(?:st|nd|rd|th)? of (?:{_MONTH_NAMES})\b"
    rf"|\b(?:{_MONTH_NAMES})\.? \d{{1,2}}(?:st|nd|rd|th)?\b"
    r"|\b\d{1,2}/\d{1,2}\b"
    r"|\b(?:el )?\d{1,2} de (?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|sep?tiembre|octubre|noviembre|"
    r"diciembre)\b"
)


def only_reply_words(text: str) -> bool:
    return all(word in REPLY_WORDS for word in text.replace("!", " ").replace("?", " ").split())
