"""What an inbound text says about consent: a carrier keyword, a clear request to stop in words, an unclear one.

Pure functions, no I/O: the inbound pipeline calls them before anything else (the AI engine included) sees the text.

Decisions, each from the carriers' or the FCC's rule rather than our taste:

* **Keywords are whole-message only.** Twilio's Advanced Opt-Out (and its default STOP filtering) acts on a reply that
  is exactly one keyword: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT opt out; START, UNSTOP, YES
  opt back in; HELP, INFO ask for help. "STOP PLEASE" or "PLEASE CANCEL" is not a keyword to Twilio. We match the same
  words the same way, after normalising what phones and people add around them (case, full-width letters, zero-width
  characters, punctuation, emoji), because "Stop!" is still the word STOP. Twilio takes no keyword with a space
  ("OPTOUT", not "OPT OUT"); the FCC names "opt out", so "opt out" and "stop all" are clear phrases here.
* **CANCEL is an opt-out even mid-booking.** Twilio blocks the number on a bare "CANCEL" whatever the conversation
  was about; if we read it as "cancel my appointment" we would answer a caller the carrier has already blocked (and
  every send would fail with 21610). "Cancel my appointment" is not a bare keyword, so it still reaches the AI.
* **YES is an opt-in only for someone opted out.** Twilio lifts a block on YES, and otherwise passes YES through as a
  normal reply; so do we: ``opt_in`` here is a candidate that ``service.record_opt_in`` acts on only when an opt-out
  is active, and the conversation treats "yes" from everyone else as an answer ("Shall I book it? Reply YES").
* **Spanish words are ours, not Twilio's.** Twilio's default filtering knows only the English keywords above (other
  languages need Advanced Opt-Out configured per Messaging Service), so a bare ALTO, PARAR, DETENER, BASTA or BAJA
  opts out here and the caller gets our one confirmation (Twilio sends none for them). A bare CANCELAR does not: it
  is no carrier keyword, and a caller in the middle of a booking mostly means the appointment, so it is
  ``unclear_opt_out`` (the AI stops, a person decides). AYUDA asks for help like HELP.
* **Reasonable means (FCC, 47 CFR 64.1200(a)(10)).** A clear request in words, in English or Spanish ("please stop
  texting me", "no más mensajes", "alto") revokes consent like a keyword. A text that sounds like it might but is
  unclear ("leave me alone", "I don't want these", "Stop. The leak is worse") is ``unclear_opt_out``: the AI goes
  quiet and a person decides. Anything else ("stop by tomorrow?", "cancel my appointment") is ``none``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

InboundKind = Literal["opt_out", "opt_in", "help", "unclear_opt_out", "none"]

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO", "AYUDA"})

# What an opt-out recorded from a phrase keeps as its "keyword": the normalised text, bounded to one SMS.
MAX_RECORDED_KEYWORD = 160

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
# Sentence punctuation separates clauses; an apostrophe or a hyphen ("don't", "opt-out") does not.
_CLAUSE_BREAK = re.compile(r"[.!?;:,\u00a1\u00bf\u2026\u3002]+")


@dataclass(frozen=True)
class InboundMatch:
    kind: InboundKind
    # What decided it, upper-case: the keyword ("STOP") or, for a phrase, the normalised text; None for ``none``.
    keyword: str | None


def normalise(body: str) -> str:
    """The text as a person meant it: NFKC, no format characters, case-folded, unaccented, single-spaced, and no
    punctuation, symbols or emoji around it. Inner punctuation stays (it separates clauses)."""
    text = unicodedata.normalize("NFKC", body)
    # Cf: zero-width space/joiners (U+200B..U+200D), word joiner (U+2060), BOM (U+FEFF), bidi marks, soft hyphen.
    # Cc (tabs, newlines, stray controls) is whitespace to a reader.
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text if unicodedata.category(ch) != "Cf")
    # Marks go after decomposition: accents ("más" is "mas"), emoji variation selectors and keycap enclosures.
    text = unicodedata.normalize("NFD", text.casefold())
    text = unicodedata.normalize("NFC", "".join(ch for ch in text if not unicodedata.category(ch).startswith("M")))
    text = " ".join(text.translate(_APOSTROPHES).split())
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start])[0] in "PSZC":
        start += 1
    while end > start and unicodedata.category(text[end - 1])[0] in "PSZC":
        end -= 1
    return text[start:end]


def _words(text: str) -> str:
    """Letters and digits only, single-spaced: "don't" → "dont", "opt-out" → "opt out", emoji gone."""
    return " ".join(re.sub(r"[\W_]+", " ", text.replace("'", "")).split())


# --- phrases (matched on ``_words`` of a normalised clause; accents are already gone) -------------------------------

_POLITE = r"(?:please|pls|plz|thanks|thank you|thx|ty|now|ya|por favor|gracias)"
_BARE_STOP = r"(?:stop(?: all| it| now| everything)?|stopall|unsubscribe|opt ?out|revoke|alto|basta|baja|detener|parar)"
# The whole message is nothing but a stop word and courtesy: "stop please", "STOP STOP", "¡Alto!", "ya basta".
_WHOLE_OPT_OUT = re.compile(rf"(?:{_POLITE} )*{_BARE_STOP}(?: {_BARE_STOP})*(?: {_POLITE})*")
# The other carrier words with courtesy are not clear ("please cancel" may be the booking): a person decides.
_WHOLE_UNCLEAR = re.compile(rf"(?:{_POLITE} )*(?:cancel|end|quit|stop|cancelar|para|no mas|enough)(?: {_POLITE})*")

_ME = r"(?: me| us| this number| my number| my phone)?"
_TEXTS = r"(?:texts?|text messages|messages|msgs|sms|txts?|mensajes|textos)"
_CLEAR_CORES = (
    # English
    rf"(?:stop|quit|cease|end) (?:texting|txting|messaging|msging|contacting|spamming|bothering|harassing)"
    rf"(?: (?:and|or) (?:calling|texting|messaging))?{_ME}",
    rf"(?:stop|quit) calling (?:and|or) (?:texting|messaging){_ME}",
    rf"(?:stop|quit) (?:sending|send)(?: me| us)?(?: (?:these|those|the|your|any|all|more))? {_TEXTS}",
    rf"(?:stop|quit) (?:getting|receiving)(?: (?:these|those|the|your|any|all))? {_TEXTS}",
    rf"(?:stop|no more|cancel)(?: (?:these|those|the|your|all|my))? (?:{_TEXTS}|text subscription|subscription)",
    r"(?:dont|do not|never) (?:text|txt|message|msg|sms|contact) (?:me|us|this number|my number)",
    r"unsubscribe(?: me| us| this number| my number)?",
    r"opt (?:me |us )?out",
    r"optout",
    r"(?:remove|delete|take|get) (?:me|us|my number|this number|my phone number) (?:off|from|out of)"
    r" (?:your |the |this |ur |all |any )?(?:lists?|contacts?|contact list|texting list|text list|mailing list"
    r"|sms list|database|system)",
    rf"i (?:dont|do not) want (?:any more |anymore |more |these |those |your |any |the )?{_TEXTS}",
    # Spanish
    rf"no (?:mas|quiero(?: mas| recibir(?: mas)?)?) {_TEXTS}",
    rf"(?:ya )?no (?:me |nos )?(?:manden|mande|envien|envie|mandes|envies|escriban|escribas|texteen|textees"
    rf"|contacten|contactes)(?: mas)?(?: {_TEXTS})?(?: mas)?",
    rf"basta de {_TEXTS}",
    rf"(?:dejen|deje|deja|para|paren|pare) de"
    rf" (?:mandarme|enviarme|escribirme|textearme|contactarme|mandar|enviar|escribir)(?: {_TEXTS})?",
    r"(?:quitenme|quitame|quiteme|sacame|saquenme|saqueme|borrenme|borrame|borreme|eliminenme|eliminame)"
    r" de (?:la|su|tu|esta|sus|tus) (?:lista|listas|contactos|base de datos)",
    r"(?:darme|denme|dame|deme|dar|doy|me doy) de baja",
    r"(?:cancelar|cancela|cancelen|cancele) (?:la |mi )?suscripcion",
)
_CLEAR = re.compile(r"\b(?:" + "|".join(_CLEAR_CORES) + r")\b")
# Words that may come before a clear request without changing it: courtesy, "can you", "I want to", Spanish "quiero".
_LEAD = re.compile(
    r"(?:(?:please|pls|plz|kindly|just|and|so|ok|okay|hey|hi|hello|now|guys|seriously|again|i said|i asked you to"
    r"|i told you to|i want you to|i need you to|you need to|you can|can you|could you|would you|will you|i want to"
    r"|i would like to|id like to|i wish to|i need to|por favor|favor de|quiero|ya|hola|oye) )*"
)
# A clear request narrowed in time ("don't text me before 9") is a preference, not a revocation: a person decides.
_QUALIFIED = re.compile(
    r"(?:before|after|until|till|til|at|on|during|between|while|when|unless|except|so early|so late|tonight"
    r"|today|tomorrow|in the morning|at night|on weekends|antes|despues|hasta|en la noche|de noche)\b"
)
# Sounds like someone who wants the texts to stop, but not clearly enough to revoke consent for them.
_UNCLEAR = re.compile(
    r"\b(?:leave me alone|leave us alone|go away|i (?:dont|do not) want (?:these|this|them|any of this|it)"
    r"|(?:not|no longer) interested|stop (?:it|this|now|calling)|enough already|how did you get my number"
    r"|dejame en paz|dejenme en paz|dejeme en paz|no me interesa|ya no quiero|no molesten|no moleste)\b"
)


def _clear_in(clause: str) -> bool | None:
    """True: a clear request to stop; False: a request-like phrase in a context that leaves it unclear; None: none."""
    seen = False
    for found in _CLEAR.finditer(clause):
        seen = True
        lead, tail = clause[: found.start()].strip(), clause[found.end() :].strip()
        if _LEAD.fullmatch(f"{lead} " if lead else "") and not _QUALIFIED.match(tail):
            return True
    return False if seen else None


def match_inbound(body: str) -> InboundMatch:
    key = normalise(body)
    word = key.upper()
    if word in OPT_OUT_KEYWORDS:
        return InboundMatch("opt_out", word)
    if word in OPT_IN_KEYWORDS:
        return InboundMatch("opt_in", word)
    if word in HELP_KEYWORDS:
        return InboundMatch("help", word)
    recorded = word[:MAX_RECORDED_KEYWORD]
    whole = _words(key)
    if _WHOLE_OPT_OUT.fullmatch(whole):
        return InboundMatch("opt_out", recorded)
    clauses = [_words(part) for part in _CLAUSE_BREAK.split(key)]
    verdicts = [_clear_in(clause) for clause in clauses if clause]
    if True in verdicts:
        return InboundMatch("opt_out", recorded)
    unclear = (
        False in verdicts
        or _WHOLE_UNCLEAR.fullmatch(whole) is not None
        or _UNCLEAR.search(whole) is not None
        # A stop word standing as its own sentence next to others ("Stop. I fixed it myself."): likely, not clear.
        or any(_WHOLE_OPT_OUT.fullmatch(c) or c.upper() in OPT_OUT_KEYWORDS for c in clauses if c)
    )
    if unclear:
        return InboundMatch("unclear_opt_out", recorded)
    return InboundMatch("none", None)


def classify_inbound(body: str) -> InboundKind:
    return match_inbound(body).kind
