"""Which language a caller writes in: English or Spanish, from the words that give a language away.

A text is scored by the function words and everyday words each language uses and the other does not ("el", "que",
"pueden", "necesito" / "the", "my", "can", "need"), plus the marks only Spanish writes (¿ ¡ ñ, accented vowels).
The weights add up to log-odds, so :attr:`Reading.spanish` is a probability-like score in 0..1: 0.5 is no evidence
either way, and each strong word moves it about one unit of log-odds. An accent alone counts for little, so an
English text signed "José" stays English; "hola" alone is enough to answer in Spanish.

A conversation keeps its language (:func:`conversation_language`): short replies ("1", "ok", "sí") carry no
evidence, and it changes only on a text that is clearly the other language or asks for it ("in English please").
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Language = Literal["en", "es"]

# Folded (lowercase, unaccented) words. 1.0: only Spanish uses it; less: English shares it ("me", "a", "no").


def _words(text: str, weight: float = 1.0) -> dict[str, float]:
    return dict.fromkeys(text.split(), weight)


_SPANISH: dict[str, float] = {
    **_words(

            "el los las del que por para con una unos unas es esta estan estoy son soy hay pueden puede podrian"
            " podria quiero quisiera necesito necesita tengo tiene tienen hoy manana tarde noche semana lunes martes"
            " miercoles jueves viernes sabado domingo hola gracias buenos buenas dias senor senora usted ustedes"
            " cuanto cuanta cuesta cuando donde como pero muy tambien porque aqui venir vengan vienen llamar llamen"
            " llameme hablar alguien persona cita precio favor bien bueno claro vale dale acuerdo primera primero"
            " segunda segundo tercera tercero ultima ultimo otra otro ninguna ninguno nada mejor antes despues eso"
            " esto estos esas esos ese este sus mis nos hace desde ayer ahora ahorita cobran sale numero"
            " equivocado quien cual favor puedo pueda mande manden escriban luego pronto posible temprano horario"
            " abren cierran abiertos mucho mucha poco perfecto correcto listo alto parar detener basta baja ayuda"
            " cancelar cancela cancele cancelen mensajes arranca prende enciende enfria calienta sirve deja rechinan"
            # home services
            " plomero plomeria fuga gotea gotera goteando tapado tapada tapo destapar drenaje desague bano inodoro"
            " excusado lavabo fregadero regadera tuberia tubo agua caliente calentador calefaccion aire"
            " acondicionado termostato ductos corte pelo cabello unas tinte aceite frenos llantas bateria carro"
            " coche revisar arreglar reparar instalar nuevo nueva roto rota descompuesto funciona urgente"
            " emergencia cocina casa tecnico mecanico peinado manicura pedicura cambio"

    ),
    "la": 0.7, "de": 0.8, "en": 0.7, "y": 0.8, "lo": 0.7, "le": 0.6, "les": 0.8, "se": 0.8, "si": 0.6, "mi": 0.5,
    "tu": 0.4, "su": 0.6, "un": 0.6, "o": 0.4, "me": 0.3, "al": 0.5, "ya": 0.5, "mas": 0.6,
}  # fmt: skip
_ENGLISH: dict[str, float] = {
    **_words(

            "the my is are you your can could would need want to for and it its this that with have has do does"
            " im we our please today tomorrow morning afternoon evening what when how much hi hello hey thanks thank"
            " yes yeah book appointment fix repair there be not of on at an if come out get just time week will"
            " whats is isnt dont cant wont been was were am any some available anyone someone speak talk"
            " call earliest soon asap next monday tuesday wednesday thursday friday saturday sunday"
            " leak leaking clogged toilet sink drain heater broken running"

    ),
    "i": 0.8, "in": 0.6, "so": 0.5, "me": 0.3, "no": 0.0, "ok": 0.0,
}  # fmt: skip
_SPANISH_MARKS = "¿¡ñ"
_ACCENTED = "áéíóú"
_BIAS = -0.5  # with no evidence a text leans English, the tenant's own language
_ASKS_SPANISH = re.compile(
    r"\b(?:en espanol|espanol por favor|habla espanol|hablan espanol|in spanish|spanish please)\b"
)
_ASKS_ENGLISH = re.compile(r"\b(?:in english|english please|speak english|en ingles|habla ingles|hablan ingles)\b")
_WORD = re.compile(r"[a-z]+")

START_SPANISH = 0.6  # a new conversation answers in Spanish from this score
SWITCH_TO_SPANISH = 0.85  # an English conversation turns Spanish only on a clearly Spanish text
SWITCH_TO_ENGLISH = 0.15  # and a Spanish one turns English only on a clearly English text
MIN_EVIDENCE = 1.0  # ... which must carry at least this much weight of words


@dataclass(frozen=True)
class Reading:
    spanish: float  # 0..1: how surely the text is Spanish
    evidence: float  # the weight of language-bearing words and marks found (0: none, e.g. "1" or "ok")

    @property
    def language(self) -> Language:
        return "es" if self.spanish >= START_SPANISH else "en"


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith("M"))


def read(text: str) -> Reading:
    lowered = text.lower()
    tokens = _WORD.findall(_fold(text))
    spanish = sum(_SPANISH.get(token, 0.0) for token in tokens)
    english = sum(_ENGLISH.get(token, 0.0) for token in tokens)
    marks = min(sum(lowered.count(mark) for mark in _SPANISH_MARKS), 2) * 1.2
    # Accented words, a little each: a Spanish name in an English text ("José", "Sofía") is not Spanish.
    accented = min(sum(any(ch in _ACCENTED for ch in word) for word in lowered.split()), 2) * 0.4
    spanish += marks + accented
    log_odds = _BIAS + spanish - english
    return Reading(spanish=1 / (1 + math.exp(-log_odds)), evidence=spanish + english)


def conversation_language(text: str, previous: Language | None) -> Language:
    """The language to answer ``text`` in, given the conversation's language so far (None for its first text)."""
    folded = _fold(text)
    if _ASKS_ENGLISH.search(folded):
        return "en"
    if _ASKS_SPANISH.search(folded):
        return "es"
    reading = read(text)
    if previous is None:
        return reading.language
    if reading.evidence < MIN_EVIDENCE:
        return previous
    if previous == "en" and reading.spanish >= SWITCH_TO_SPANISH:
        return "es"
    if previous == "es" and reading.spanish <= SWITCH_TO_ENGLISH:
        return "en"
    return previous


def remembered_language(state: dict[str, object]) -> Language | None:
    """The language an engine kept in the conversation's state (under its own key), if any."""
    for key in ("builtin", "llm"):
        value = state.get(key)
        if isinstance(value, dict) and value.get("lang") in ("en", "es"):
            return "es" if value["lang"] == "es" else "en"
    return None


_SMALL_WORDS = frozenset(
    _words(
        "que los las del por para con una unos unas hay muy pero como cuando donde esta este esto eso esa ese mis sus"
        " nos les"
    )
)


def content_words(text: str) -> str:
    """``text`` without Spanish small words and anything under three letters: what is left says what the job is."""
    return " ".join(word for word in _WORD.findall(_fold(text)) if len(word) > 2 and word not in _SMALL_WORDS)
