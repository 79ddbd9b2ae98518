"""What a caller's text asks for, read with SMS habits in mind (lowercase, typos, emoji, two asks in one text)."""

from __future__ import annotations

import re
import unicodedata
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
    r"thats fine|that is fine|thats good|that is good|thats perfect|"
    # Spanish (accents are folded away before matching)
    r"si|claro|vale|dale|de acuerdo|esta bien|perfecto|correcto|por supuesto|me sirve|me funciona|me parece bien|"
    r"me queda bien|confirmo|confirmar|confirmela|adelante|listo|bueno|sale|orale|excelente|esa|ese|eso|esa hora|"
    r"ok gracias|si gracias|si por favor)\b"
)
# "no tengo calefaccion", "no funciona": a Spanish "no" that describes the problem, not a refusal.
_NO = re.compile(
    r"^(?:no(?! (?:tengo|tenemos|hay|funciona|sirve el|sirve la|prende|enciende|enfria|calienta|arranca|baja|sale|"
    r"jala|para de))|not really|no thanks|never mind|nevermind|not now|dont|do not|mejor no|no gracias)\b"
)
_STOP = re.compile(
    r"\b(?:stop (?:texting|txting|messaging|sending|contacting|bothering)|(?:dont|do not) (?:text|message|contact)"
    r"(?: me)?|leave me alone|unsubscribe|remove me|take me off|wrong number|no more (?:texts|messages)|"
    r"numero equivocado|equivocado de numero|se equivoco de numero|equivocaron de numero|no me (?:escriban|manden)|"
    r"dejen de (?:escribirme|mandarme)|ya no quiero mensajes)\b"
)
_HANDOFF = re.compile(
    r"\b(?:(?:talk|speak|chat) (?:to|with) (?:a |an |the |someone|somebody|your )?(?:real |actual |live )?"
    r"(?:person|human|someone|somebody|owner|manager|tech|technician|rep|representative|agent|people|guy|lady|"
    r"plumber|staff|mechanic|stylist|receptionist|office|electrician|tech)|(?:real|actual|live) (?:person|human)|"
    r"human being|a human|representative|operator|someone real|somebody real|"
    r"call me|give me a call|have someone call|can someone call|not a bot|are you a bot|are you a robot|"
    r"hablar con (?:una |un |el |la |alguien|su )?(?:persona|humano|alguien|dueno|duena|encargado|encargada|gerente|"
    r"tecnico|plomero|mecanico|estilista|recepcionista|oficina|representante|agente)|persona real|un humano|"
    r"llamenme|llameme|me (?:pueden|puede|podrian|podria) llamar|que me llamen|que alguien me llame|"
    r"(?:eres|es) un (?:robot|bot))\b"
)
_URGENT = re.compile(
    r"\b(?:water (?:(?:is|was|keeps) )?(?:everywhere|all over|on the floor|pouring|coming|gushing|spraying)|"
    r"flood(?:ing|ed)?|burst|busted pipe|"
    r"pipe (?:broke|burst)|no heat|no heating|heat (?:is )?out|no hot water|no (?:ac|a/c|air)|ac (?:is )?out|"
    r"(?:smell|smells) (?:of )?gas|gas (?:leak|smell)|sewage|backing up|overflowing|emergency|urgent|sparks|smoke|"
    r"emergencia|urgente|se (?:esta )?inunda\w*|inundacion|inundado|agua por todos lados|se (?:me )?revento|"
    r"tubo roto|tuberia rota|(?:no (?:tengo|tenemos|hay)|sin) (?:calefaccion|agua caliente|aire|calor)|"
    r"huele a gas|olor a gas|fuga de gas|aguas negras|se desborda\w*)\b"
)
_PRICE = re.compile(
    r"\b(?:how much|price|cost|costs|charge|charges|rate|rates|quote|estimate|fee|what do you charge|"
    r"(?:would|will|does|did) (?:that|it|this|one) run|run me|"
    r"cuanto (?:cuesta|cobran|cobra|sale|es|vale)|precio|precios|costo|cotizacion|presupuesto)\b|\$"
)
_HOURS = re.compile(
    r"\b(?:hours|are you open|you open|open today|open now|open tomorrow|open on|still open|when do you open|"
    r"when do you close|what time do you (?:open|close)|closing time|opening time|when are you open|"
    r"horario|horarios|a que hora (?:abren|cierran)|estan abiertos|abren hoy|abren manana|estan cerrados)\b"
)
_CANCEL = re.compile(r"\b(?:cancel|cancelar|cancele|cancelen|cancela|cancelo)\b")
_RESCHEDULE = re.compile(
    r"\b(?:reschedule|move (?:my|the|it)|change (?:my|the) (?:appointment|time|booking)|push (?:it|my)|"
    r"different (?:day|time) for my|rebook|"
    r"(?:cambiar|mover|pasar|recorrer) (?:mi|la|su) (?:cita|hora)|reprogramar|reagendar)\b"
)
_BOOK = re.compile(
    r"\b(?:book|booking|appointment|schedule|come out|come by|come over|send someone|need (?:a|an|someone|my|it)|"
    r"available|availability|openings?|slots?|visit|can you|could you|fix|repair|want|looking for|get in|"
    r"cita|agendar|reservar|hacer una cita|necesito|quiero|quisiera|pueden venir|puede venir|vengan|"
    r"manden a alguien|disponible|disponibilidad|arreglar|reparar|revisar|revisen|tienen)\b"
)
_REJECT = re.compile(
    r"\b(?:none|neither|those (?:dont|do not|wont|will not) work|(?:dont|do not|doesnt|does not|cant|can not|"
    r"cannot) (?:work|make|do) (?:any|those|them|that)|no good|other (?:times|days|options)|something else|"
    r"anything else|any other|different (?:time|day)|not those|busy then|cant make (?:it|those|that)|"
    r"ninguna|ninguno|no me (?:sirve|sirven|queda|quedan|funciona)|no puedo|otro dia|otra hora|otro horario|"
    r"otras horas|otra opcion|otras opciones|otro momento)\b"
)
_THANKS = re.compile(r"\b(?:thanks|thank you|appreciate it|cheers|gracias|se lo agradezco|muy amable)\b")
_GREETING = re.compile(r"^(?:hi|hey|hello|hiya|good (?:morning|afternoon|evening)|yo|hola|buenos dias|buenas)\b")
_ORDINALS: list[tuple[re.Pattern[str], int]] = [
    (
        re.compile(
            r"\b(?:first|1st|#1|option 1|number 1|option one|number one|primera|primero|"
            r"(?:la|el|opcion|numero) (?:1|uno|una))\b|^(?:the )?one$|^1$"
            r"|^1\b(?!\s*(?::|am|pm|a\b|p\b))"
        ),
        0,
    ),
    (
        re.compile(
            r"\b(?:second|2nd|#2|option 2|number 2|two|segunda|segundo|(?:la|el|opcion|numero) (?:2|dos))\b|^2$"
            r"|^2\b(?!\s*(?::|am|pm|a\b|p\b))"
        ),
        1,
    ),
    (
        re.compile(
            r"\b(?:third|3rd|#3|option 3|number 3|three|tercera|tercero|(?:la|el|opcion|numero) (?:3|tres))\b|^3$"
            r"|^3\b(?!\s*(?::|am|pm|a\b|p\b))"
        ),
        2,
    ),
    (re.compile(r"\b(?:last|latest|later one|ultima|ultimo)\b(?! week)"), -1),
    (re.compile(r"\b(?:earlier one|earliest one|la mas temprana|el mas temprano)\b"), 0),
]


def normalize(text: str) -> str:
    """Lowercase words with common SMS spellings fixed; thumbs-up/down become yes/no, other emoji vanish."""
    for emoji in _EMOJI_YES:
        text = text.replace(emoji, " yes ")
    for emoji in _EMOJI_NO:
        text = text.replace(emoji, " no ")
    text = text.lower().replace("\u2019", "'").replace("'", "")
    # Accents off ("sí", "mañana", "está" → "si", "manana", "esta"): callers type them or not.
    text = unicodedata.normalize("NFD", text)
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("M"))
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
