"""What a caller's text asks for, read with SMS habits in mind (lowercase, typos, emoji, two asks in one text)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_EMOJI_YES = "👍👌✅🆗🙌💯"
_EMOJI_NO = "👎❌🚫🙅"
_WORD_FIXES: dict[str, str] = {
    "pls": "please", "plz": "please", "u": "you", "ur": "your", "r": "are", "appt": "appointment",
    "apt": "appointment", "hw": "how", "wat": "what", "wut": "what", "whats": "what is", "thx": "thanks",
    "ty": "thanks", "cancle": "cancel", "cancell": "cancel", "cancelled": "cancel", "canceled": "cancel",
    "resched": "reschedule", "reschedual": "reschedule", "rescedule": "reschedule", "reschedul": "reschedule",
    "reshedule": "reschedule", "ppl": "people", "prson": "person", "persn": "person", "hrs": "hours",
    "opn": "open", "bk": "book", "hmu": "call me", "k": "ok", "kk": "ok", "okk": "ok", "okay": "ok",
    "yea": "yeah", "ya": "yeah", "yah": "yeah", "yess": "yes", "yesss": "yes", "ye": "yes", "noo": "no",
    "nah": "no", "nope": "no", "naw": "no", "yup": "yep", "tmrw": "tomorrow", "tmr": "tomorrow",
    "tomorow": "tomorrow", "tommorow": "tomorrow", "tommorrow": "tomorrow", "2morrow": "tomorrow",
    "2moro": "tomorrow", "tmrow": "tomorrow", "prices": "price", "pricing": "price", "cst": "cost",
}  # fmt: skip

_YES = re.compile(
    r"^(?:yes|yeah|yep|sure|ok|alright|all right|sounds good|sounds great|perfect|great|please do|do it|"
    r"book it|book me|lock it in|go ahead|confirm|correct|that works|works for me|works|absolutely|definitely|"
    r"yes please|ok thanks|for sure|of course|that is right|right|good|fine|cool|that one|that time|that day|"
    r"thats fine|that is fine|thats good|that is good|thats perfect|si|claro|vale|dale|de acuerdo|esta bien)\b"
)
_NO = re.compile(r"^(?:no|not really|no thanks|never mind|nevermind|not now|dont|do not)\b")
_STOP = re.compile(
    r"\b(?:stop (?:texting|txting|messaging|sending|contacting|bothering)|(?:dont|do not) (?:text|message|contact)"
    r"(?: me)?|leave me alone|unsubscribe|remove me|take me off|wrong number|no more (?:texts|messages))\b"
)
_HANDOFF = re.compile(
    r"\b(?:(?:talk|speak|chat) (?:to|with) (?:a |an |the |someone|somebody|your )?(?:real |actual |live )?"
    r"(?:person|human|someone|somebody|owner|manager|tech|technician|rep|representative|agent|people|guy|lady|"
    r"plumber|staff|mechanic|stylist|receptionist|office|electrician|tech)|(?:real|actual|live) (?:person|human)|"
    r"human being|a human|representative|operator|someone real|somebody real|"
    r"call me|give me a call|have someone call|can someone call|not a bot|are you a bot|are you a robot)\b"
)
_URGENT = re.compile(
    r"\b(?:water (?:everywhere|all over|on the floor|pouring|coming)|flood(?:ing|ed)?|burst|busted pipe|"
    r"pipe (?:broke|burst)|no heat|no heating|heat (?:is )?out|no hot water|no (?:ac|a/c|air)|ac (?:is )?out|"
    r"(?:smell|smells) (?:of )?gas|gas (?:leak|smell)|sewage|backing up|overflowing|emergency|urgent|sparks|smoke)\b"
)
_PRICE = re.compile(
    r"\b(?:how much|price|cost|costs|charge|charges|rate|rates|quote|estimate|fee|what do you charge)\b|\$"
)
_HOURS = re.compile(
    r"\b(?:hours|are you open|you open|open today|open now|open tomorrow|open on|still open|when do you open|"
    r"when do you close|what time do you (?:open|close)|closing time|opening time|when are you open)\b"
)
_CANCEL = re.compile(r"\bcancel\b")
_RESCHEDULE = re.compile(
    r"\b(?:reschedule|move (?:my|the|it)|change (?:my|the) (?:appointment|time|booking)|push (?:it|my)|"
    r"different (?:day|time) for my|rebook)\b"
)
_BOOK = re.compile(
    r"\b(?:book|booking|appointment|schedule|come out|come by|come over|send someone|need (?:a|an|someone|my|it)|"
    r"available|availability|openings?|slots?|visit|can you|could you|fix|repair|want|looking for|get in)\b"
)
_REJECT = re.compile(
    r"\b(?:none|neither|those (?:dont|do not|wont|will not) work|(?:dont|do not|doesnt|does not|cant|can not|"
    r"cannot) (?:work|make|do) (?:any|those|them|that)|no good|other (?:times|days|options)|something else|"
    r"anything else|any other|different (?:time|day)|not those|busy then|cant make (?:it|those|that))\b"
)
_THANKS = re.compile(r"\b(?:thanks|thank you|appreciate it|cheers)\b")
_GREETING = re.compile(r"^(?:hi|hey|hello|hiya|good (?:morning|afternoon|evening)|yo)\b")
_ORDINALS: list[tuple[re.Pattern[str], int]] = [
    (
        re.compile(
            r"\b(?:first|1st|#1|option 1|number 1|option one|number one)\b|^(?:the )?one$|^1$"
            r"|^1\b(?!\s*(?::|am|pm|a\b|p\b))"
        ),
        0,
    ),
    (re.compile(r"\b(?:second|2nd|#2|option 2|number 2|two)\b|^2$|^2\b(?!\s*(?::|am|pm|a\b|p\b))"), 1),
    (re.compile(r"\b(?:third|3rd|#3|option 3|number 3|three)\b|^3$|^3\b(?!\s*(?::|am|pm|a\b|p\b))"), 2),
    (re.compile(r"\b(?:last|latest|later one)\b(?! week)"), -1),
    (re.compile(r"\b(?:earlier one|earliest one)\b"), 0),
]


def normalize(text: str) -> str:
    """Lowercase words with common SMS spellings fixed; thumbs-up/down become yes/no, other emoji vanish."""
    for emoji in _EMOJI_YES:
        text = text.replace(emoji, " yes ")
    for emoji in _EMOJI_NO:
        text = text.replace(emoji, " no ")
    text = text.lower().replace("\u2019", "'").replace("'", "")
    text = "".join(ch if ch.isascii() or ch.isalpha() else " " for ch in text)
    words = re.findall(r"[a-z0-9#@$/:.]+|[^\sa-z0-9]", text)
    fixed = [_WORD_FIXES.get(word.strip("."), word) for word in words]
    joined = " ".join(fixed)
    joined = re.sub(r"\s+([,!?;])", r"\1", joined)
    return re.sub(r"\s+", " ", joined).strip(" .")


@dataclass(frozen=True)
class Signals:
    text: str
    yes: bool
    no: bool
    stop: bool
    handoff: bool
    urgent: bool
    price: bool
    hours: bool
    cancel: bool
    reschedule: bool
    book: bool
    reject: bool
    thanks: bool
    greeting: bool
    choice: int | None


def choice_index(text: str) -> int | None:
    """Which offered option the caller picked by position ("the first one", "2", "#3", "the last"), if any."""
    for pattern, index in _ORDINALS:
        if pattern.search(text):
            return index
    return None


def read(raw: str) -> Signals:
    text = normalize(raw)
    urgent = bool(_URGENT.search(text))
    stop = bool(_STOP.search(text))
    # "no heat" is an emergency, not a refusal; "no" only counts at the start of a text.
    no = bool(_NO.search(text)) and not urgent
    return Signals(
        text=text,
        yes=bool(_YES.search(text)) and not no,
        no=no,
        stop=stop,
        handoff=bool(_HANDOFF.search(text)) and not stop,
        urgent=urgent,
        price=bool(_PRICE.search(text)),
        hours=bool(_HOURS.search(text)),
        cancel=bool(_CANCEL.search(text)),
        reschedule=bool(_RESCHEDULE.search(text)),
        book=bool(_BOOK.search(text)),
        reject=bool(_REJECT.search(text)) or text in ("no", "no thanks"),
        thanks=bool(_THANKS.search(text)),
        greeting=bool(_GREETING.search(text)),
        choice=choice_index(text),
    )
