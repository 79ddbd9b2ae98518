"""Which catalog item a caller means, read the way a front desk would: typos and inflections forgiven ("leakin",
"cloged", "heatr"), everyday descriptions understood ("the bathroom drain is backed up"), and the caller's own
deciding word ("install" or "fix", "new" or "broken") choosing between items that share a subject.

The tenant's catalog stays the authority: the tools' own ranking (names and tenant aliases) comes in as
``tool_matches``; this module adds a built-in home-services vocabulary on top. A subject the vocabulary knows but no
active item carries ("gutters" at a plumber's) is reported as :attr:`ServiceReading.not_offered`, so the engine can
say "we don't do that" instead of offering an unrelated item.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from rapidfuzz.distance import DamerauLevenshtein

from domain.conversations.engine.ports import ServiceOption

# Subject → the words and phrases callers use for it (English and Spanish). A service carries a subject when its
# name says one of them; a caller's text carries it when any phrase is in the text (each word typo-tolerant).
SUBJECTS: dict[str, tuple[str, ...]] = {
    "drain": (
        "drain", "drains", "clog", "clogged", "clogging", "unclog", "backed up", "backing up", "blocked", "slow drain",
        "wont drain", "not draining", "tapo", "tapado", "tapada", "tapados", "destapar", "destape", "drenaje",
        "desague", "coladera", "atascado", "atascada", "atorado", "atorada",
    ),
    "leak": (
        "leak", "leaks", "leaking", "leaky pipe", "burst", "pipe broke", "dripping under", "water under", "puddle",
        "water everywhere", "flooding", "water pouring", "water is pouring", "pouring water", "gushing",
        "water spraying", "spraying water", "dripping from", "water coming", "fuga", "fugas", "gotea", "gotera",
        "goteando", "tuberia rota", "tubo roto",
        "se revento", "inundacion", "inundando",
    ),
    "toilet": ("toilet", "toilets", "running toilet", "inodoro", "excusado", "escusado", "wc", "bano", "sanitario",
               "retrete"),
    "faucet": ("faucet", "faucets", "tap", "spigot", "grifo", "llave", "llave de agua", "canilla", "mezcladora"),
    "water heater": (
        "water heater", "hot water", "boiler", "agua caliente", "calentador", "calentador de agua", "boiler",
        "termotanque",
        # What a caller notices when it fails: water that never warms up.
        "lukewarm", "luke warm", "tepid", "never gets hot", "wont get hot", "doesnt get hot", "not getting hot",
        "isnt getting hot", "cold shower", "cold showers", "only cold water", "agua tibia", "agua fria",
        "sale fria",
    ),
    "sewer": ("sewer", "sewer line", "camera inspection", "alcantarillado", "drenaje principal"),
    "ac": (
        "ac", "a/c", "air conditioner", "air conditioning", "air con", "cooling", "not cooling", "blows warm",
        "blowing warm", "aire acondicionado", "aire", "clima", "minisplit", "no enfria",
        "blowing hot", "blows hot", "outside unit", "unit outside", "condenser", "compressor", "frozen over",
        "iced up", "ice on the lines",
    ),
    "furnace": (
        "furnace", "heat", "heating", "heater", "no heat", "blowing cold", "calefaccion", "calentador de aire",
        "calefactor", "caldera", "no calienta",
        # A heater that stops warming ("not blowing hot air") is the furnace, not the AC's "blowing hot air".
        "not blowing hot", "isnt blowing hot", "wont blow hot", "doesnt blow hot", "not blowing warm",
    ),
    "thermostat": ("thermostat", "nest", "ecobee", "termostato"),
    "duct": ("duct", "ducts", "air ducts", "vents", "ductos", "conductos", "ventilas", "rejillas"),
    # "pelo" / "cabello" (hair) name no job of their own: "pintarme el pelo" is colour, "corte de pelo" a cut.
    "haircut": ("haircut", "hair cut", "cut", "trim", "corte", "cortarme", "recorte"),
    "mens": ("men", "mens", "man", "fade", "buzz", "buzz cut", "beard", "barba", "caballero", "hombre", "degradado",
             "desvanecido"),
    "color": ("color", "colour", "dye", "highlights", "roots", "balayage", "tinte", "mechas", "rayitos", "reflejos",
              "raices", "pintarme", "gray hair", "grey hair", "gray roots", "grey roots", "gray covered",
              "grey covered", "cover gray", "cover grey", "cover my gray", "cover my grey", "cover up my gray",
              "cover up my grey", "cover the gray", "cover the grey", "gray coverage", "grey coverage", "canas",
              "tenirme"),
    "blowout": ("blowout", "blow dry", "blowdry", "styling", "peinado", "secado", "planchado"),
    "manicure": ("manicure", "mani", "nails", "gel nails", "unas", "manicura", "gelish"),
    "pedicure": ("pedicure", "pedi", "toes", "pedicura", "pies"),
    "oil": ("oil", "oil change", "lube", "aceite", "cambio de aceite"),
    "brake": ("brake", "brakes", "brake pads", "squeak", "squeaking", "squeaky", "grinding", "frenos", "freno",
              "balatas", "rechinan", "chillan"),
    "tire": ("tire", "tires", "rotation", "rotate", "llantas", "llanta", "neumaticos", "rotar", "rotacion"),
    "engine": ("check engine", "engine light", "diagnostic", "diagnostics", "motor", "luz del motor", "diagnostico"),
    "battery": ("battery", "wont start", "dead battery", "bateria", "no arranca", "no prende", "wont crank",
                "not cranking", "doesnt crank", "wont turn over", "not turning over", "doesnt turn over",
                "just clicks", "clicks when", "jump start", "jumpstart", "needs a jump", "need a jump"),
    "car": ("car", "truck", "vehicle", "suv", "van", "carro", "coche", "auto", "camioneta", "vehiculo", "troca"),
}  # fmt: skip

# Subjects of other trades: a text about one of these, that no item carries, is a job this business does not do.
OTHER_TRADES: tuple[str, ...] = (
    "gutter", "gutters", "roof", "roofing", "shingles", "electrician", "electrical", "wiring", "rewire", "panel",
    "outlet", "painting", "painter", "drywall", "carpet", "landscaping", "lawn", "pest", "waxing", "wax", "eyebrow",
    "eyebrows", "massage", "facial", "lashes", "tattoo", "transmission", "transmissions", "detailing", "detailed",
    "bodywork", "dent", "windshield", "pool", "appliance", "fridge", "dishwasher", "locksmith", "moving",
    "canaletas", "canalones", "techo", "tejado", "electricista", "electrico", "cableado", "pintura", "pintar",
    "jardin", "cesped", "plagas", "fumigacion", "cerrajero", "mudanza", "alberca", "piscina", "refrigerador",
    "lavaplatos", "transmision", "hojalateria", "parabrisas", "pestanas", "cejas", "depilacion", "masaje",
    "tatuaje", "smog", "smog check", "emissions", "alignment", "wheel alignment", "alineacion", "balanceo",
    "verificacion", "spray tan", "spray tanning", "tanning", "bronceado",
)  # fmt: skip

# A whole trade named in a word ("do you do plumbing?"): not ours when the catalog carries none of its subjects.
TRADES: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "plumbing": (("plumbing", "plumber", "plomeria", "plomero"),
                 frozenset({"drain", "leak", "toilet", "faucet", "water heater", "sewer"})),
    "hvac": (("hvac", "heating and cooling", "heating and air", "calefaccion y aire"),
             frozenset({"ac", "furnace", "thermostat", "duct"})),
    "auto": (("mechanic", "auto repair", "car repair", "mecanico", "taller mecanico"),
             frozenset({"oil", "brake", "tire", "engine", "battery"})),
    "salon": (("hair salon", "hairdresser", "peluqueria", "estetica"),
              frozenset({"haircut", "mens", "color", "blowout", "manicure", "pedicure"})),
}  # fmt: skip

# The kind of job: a caller's deciding word, and what an item's name says it is.
KINDS: dict[str, tuple[str, ...]] = {
    "repair": (
        "repair", "fix", "fixed", "fixing", "broken", "broke", "not working", "stopped working", "wont", "doesnt work",
        "isnt working", "making noise", "noise", "noisy", "out", "no", "leaking", "running", "reparar", "arreglar",
        "broken", "hasnt", "isnt", "doesnt", "cant", "stopped", "leaky", "dripping", "drip", "clogged",
        "blowing cold", "blows cold", "cold air", "blows warm", "blowing warm", "warm air", "not cooling",
        "not heating", "squeak", "squeaking", "grinding", "wont start", "dead",
        "quit", "quit working", "went out", "died", "wont turn on", "not turning on", "hot air",
        "blowing hot", "blows hot", "lukewarm", "luke warm", "tepid", "never gets hot", "wont get hot",
        "doesnt get hot", "not getting hot", "cold shower", "frozen", "froze", "iced up", "wont crank",
        "not cranking", "clicks", "wont flush", "aire caliente", "agua tibia",
        "roto", "rota", "descompuesto", "descompuesta", "no funciona", "no sirve", "no prende", "no enciende",
        "no enfria", "no calienta", "reparacion", "arreglo", "falla", "ruido", "gotea", "tapado", "tapo",
    ),
    "install": (
        "install", "installed", "installing", "installation", "new", "replace", "replaced", "replacement", "upgrade",
        "bought", "put in", "replacing", "swap", "swap out",
        "instalar", "instalacion", "nuevo", "nueva", "reemplazar", "cambiar el", "cambiar la",
        "poner un", "poner una", "compre",
    ),
    "maintenance": (
        "tune", "tune up", "tuneup", "tune-up", "maintenance", "service", "serviced", "servicing", "checkup",
        "check up", "inspection", "inspect", "yearly", "annual", "before summer", "before winter", "mantenimiento",
        "afinacion", "chequeo", "revision", "anual", "antes del verano", "antes del invierno",
    ),
}  # fmt: skip
_NAME_KINDS: dict[str, str] = {
    "repair": "repair", "fix": "repair", "recharge": "repair", "diagnostic": "repair",
    "install": "install", "installation": "install", "replacement": "install",
    "tune": "maintenance", "tune-up": "maintenance", "tuneup": "maintenance", "maintenance": "maintenance",
    "inspection": "maintenance", "rotation": "maintenance", "change": "maintenance", "cleaning": "repair",
}  # fmt: skip

# What is wrong (a clog, a leak) yields to what it is wrong with: "clogged toilet" is the toilet's repair and a
# "leaky faucet" the faucet's, when an item carries that fixture; a clog or leak alone stays the drain or leak item.
SYMPTOMS = frozenset({"drain", "leak"})

CLEAR = 0.8  # an item this sure, clearly ahead, is taken without asking
_WORD = re.compile(r"[a-z0-9/]+")


def fold(text: str) -> str:
    """Lowercase, accents off ("calefacción" → "calefaccion"), apostrophes gone ("men's" → "mens")."""
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("M"))
    return text.replace("'", "").replace("\u2019", "")


# Caller words repeat across texts and tenants, and the vocabulary never changes while a process runs: each word is
# stemmed and typo-corrected once per process rather than once per phrase it is compared with.
@lru_cache(maxsize=16_384)
def _stem(word: str) -> str:
    """ "leakin" → "leaking" → "leak", "clogged" → "clog": enough stemming to compare a caller's word to ours."""
    if word.endswith("in") and len(word) > 4 and not word.endswith(("ain", "oin")):
        word += "g"
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2]:
        word = word[:-1]  # "clogg" → "clog"
    return word


# Everyday words a slip away from a subject ("time" / "tire", "heat" / "seat"): never read as a typo of one.
_COMMON = frozenset(
    {
        "time", "times", "fine", "line", "nine", "like", "take", "make", "same", "here", "there", "where", "when",
        "then", "that", "this", "what", "have", "come", "some", "home", "more", "name", "good", "need", "want", "week",
        "work", "works", "sure", "seat", "meat", "hear", "near", "tired", "tried", "dried", "cute", "date", "late",
        "rate",
    }
)  # fmt: skip


def _same(word: str, ours: str) -> bool:
    if word == ours:
        return True
    if len(ours) < 3 or len(word) < 3:
        return False
    a, b = _stem(word), _stem(ours)
    if a == b:
        return True
    if word in _COMMON or min(len(word), len(ours)) < 4 or max(len(word), len(ours)) < 5 or word[0] != ours[0]:
        return False
    # One slip per word, two in a long one ("furnance", "heatr", "toliet", "manicur", "ducs").
    allowed = 1 if max(len(word), len(ours)) <= 7 else 2
    return DamerauLevenshtein.distance(word, ours) <= allowed


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def _phrase_words(phrase: str) -> tuple[str, ...]:
    return tuple(words(phrase))


class _PhraseIndex:
    """Labelled phrases, found in a text in one pass over its words: each phrase is filed under its first word's stem,
    so a text is compared only with the phrases that start with one of its words (not with every phrase)."""

    def __init__(self, groups: Mapping[str, Iterable[str]]) -> None:
        self._by_first: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...]]]] = {}
        for label, phrases in groups.items():
            for phrase in phrases:
                phrase_words = _phrase_words(phrase)
                if phrase_words:
                    target = tuple(_stem(word) for word in phrase_words)
                    self._by_first.setdefault(target[0], []).append((label, target, phrase_words))

    def found(self, text_words: list[str]) -> dict[str, set[tuple[str, ...]]]:
        """Label → the phrases of it that occur in ``text_words`` (inflections allowed), as their words."""
        stems = [_stem(word) for word in text_words]
        found: dict[str, set[tuple[str, ...]]] = {}
        for start, stem in enumerate(stems):
            for label, target, phrase_words in self._by_first.get(stem, ()):
                if tuple(stems[start : start + len(target)]) == target:
                    found.setdefault(label, set()).add(phrase_words)
        return found


def _inside(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """``short`` occurs within the longer phrase ``long`` (compared as stems: "blows hot" is in "not blowing hot")."""
    short, long = tuple(_stem(w) for w in short), tuple(_stem(w) for w in long)
    width = len(short)
    return width < len(long) and any(long[i : i + width] == short for i in range(len(long) - width + 1))


def _narrowest(matched: Mapping[str, Iterable[tuple[str, ...]]]) -> set[str]:
    """Subjects whose phrases occur; a phrase inside a longer phrase that matched ("heater" in "water heater",
    "blowing hot" in "not blowing hot") does not count on its own."""
    found = {subject: list(phrases) for subject, phrases in matched.items()}
    every = [phrase for phrases in found.values() for phrase in phrases]
    return {
        subject
        for subject, phrases in found.items()
        if any(not any(_inside(phrase, other) for other in every) for phrase in phrases)
    }


_SUBJECT_INDEX = _PhraseIndex(SUBJECTS)
_KIND_INDEX = _PhraseIndex(KINDS)
_TRADE_INDEX = _PhraseIndex({"other trade": OTHER_TRADES})
_WHOLE_TRADE_INDEX = _PhraseIndex({trade: phrases for trade, (phrases, _subjects) in TRADES.items()})


def _places(text_words: list[str]) -> list[str]:
    """Room words read as the place, not the fixture: "el lavabo del baño" is a bathroom sink, while "se tapó el
    baño" is the toilet ("baño" after "del"/"de"/"en el" names the room)."""
    out = list(text_words)
    for index, word in enumerate(out):
        before = out[index - 1] if index else ""
        if word == "bano" and (before in ("del", "de") or (before == "el" and index > 1 and out[index - 2] == "en")):
            out[index] = "bathroom"
    return out


def subjects_in(text_words: list[str]) -> set[str]:
    return _narrowest(_SUBJECT_INDEX.found(_fixed(_places(text_words))))


def _vocabulary() -> frozenset[str]:
    trades = [phrases for phrases, _subjects in TRADES.values()]
    phrases = [p for group in (*SUBJECTS.values(), *KINDS.values(), OTHER_TRADES, *trades) for p in group]
    return frozenset(w for p in phrases for w in words(p)) | _COMMON


_VOCABULARY = _vocabulary()
_STEMS = frozenset(_stem(w) for w in _VOCABULARY)


def _fixed(text_words: list[str]) -> list[str]:
    """Caller words folded to the vocabulary's spelling where they are a typo of it ("heatr" → "heater")."""
    return [_fix(word) for word in text_words]


@lru_cache(maxsize=16_384)
def _fix(word: str) -> str:
    """The closest vocabulary word, the longer on a tie; a word we know (or an inflection of one) stays as it is."""
    if word in _VOCABULARY or _stem(word) in _STEMS or len(word) < 4:
        return word
    close = [ours for ours in _VOCABULARY if _same(word, ours)]
    if not close:
        return word
    return min(close, key=lambda ours: (DamerauLevenshtein.distance(word, ours), -len(ours), ours))


def kinds_in(text_words: list[str]) -> set[str]:
    found = set(_KIND_INDEX.found(text_words))
    if {"install", "maintenance"} & found:
        found.discard("repair")  # "no ac, want it serviced": the caller already said what they want
    return found


@lru_cache(maxsize=4_096)
def service_subjects(name: str) -> frozenset[str]:
    """What an item's name is about; the name must say it outright (no typo tolerance, "cut" is not "car")."""
    name_words = tuple(words(name))
    matched: dict[str, list[tuple[str, ...]]] = {}
    for subject, phrases in SUBJECTS.items():
        for phrase in phrases:
            target = _phrase_words(phrase)
            width = len(target)
            if target and any(name_words[i : i + width] == target for i in range(len(name_words) - width + 1)):
                matched.setdefault(subject, []).append(target)
    return frozenset(_narrowest(matched))


@lru_cache(maxsize=4_096)
def service_kind(name: str) -> str | None:
    for word in reversed(words(name.replace("-", " ")) + words(name)):
        if word in _NAME_KINDS:
            return _NAME_KINDS[word]
    return None


@dataclass(frozen=True)
class ServiceReading:
    """The caller's text, as far as services go: ranked options (best first) and whether it names a job outside
    this catalog."""

    options: tuple[ServiceOption, ...]
    subjects: frozenset[str]
    not_offered: bool


def rank(text: str, catalog: list[ServiceOption], tool_matches: list[ServiceOption]) -> ServiceReading:
    """Every active item scored 0..1 for ``text``; items that don't match at all are left out."""
    text_words = words(text)
    said = subjects_in(text_words)
    kinds = kinds_in(_fixed(text_words))
    by_tools = {option.id: option.confidence for option in tool_matches}
    scored: list[ServiceOption] = []
    carried: set[str] = set()
    base: dict[object, float] = {}
    for option in catalog:
        subjects = service_subjects(option.name)
        carried |= subjects
        # "car" only tells items apart; an item is about its other subjects.
        core = subjects - {"car"} or subjects
        overlap = core & said
        if overlap:
            # Scores stay below 1 before the deciding word and the tools' say, so those still separate items.
            score = 0.7 + 0.15 * len(overlap) / len(core)
            if "mens" in said and "mens" not in subjects and "mens" in carried_anywhere(catalog):
                score -= 0.2  # "a men's cut" is never the women's item when the catalog has a men's one
            base[option.id] = score
    # The caller's deciding word ("install", "fix", "tune up") moves items of that kind up, and the others down
    # only when an item of that kind is among them to take their place.
    fixtures = {subject for subject in said - SYMPTOMS - {"car", "mens"} if subject in carried_anywhere(catalog)}
    if fixtures and said & SYMPTOMS:
        for option in catalog:
            if option.id in base and not (service_subjects(option.name) & fixtures):
                base[option.id] -= 0.15
    kinds_present = {service_kind(o.name) for o in catalog if o.id in base}
    for option in catalog:
        tool = by_tools.get(option.id, 0.0)
        score = base.get(option.id, 0.0)
        if score:
            kind = service_kind(option.name)
            if kinds and kind is not None:
                if kind in kinds:
                    score += 0.1
                elif kinds & kinds_present:
                    score -= 0.1
        # The tenant's aliases still count; word-level look-alikes ("car" in "car ac") count for less when the
        # vocabulary already found what the text is about, or when all the text shares with an item is a word that
        # only tells items apart ("my car pulls to the right" is no reason to book the car's AC).
        generic_only = (
            not (said - {"car", "mens"})
            and bool(said)
            and not score
            and bool(service_subjects(option.name) - {"car", "mens"})
        )
        score = max(score + 0.05 * tool, tool * (0.7 if said - {"car", "mens"} or generic_only else 1.0))
        if score >= 0.3:
            scored.append(replace(option, confidence=round(min(score, 1.0), 3)))
    scored.sort(key=lambda option: -option.confidence)
    unknown_trade = bool(_TRADE_INDEX.found(_fixed(text_words)))
    # "do you do plumbing?" at a heating company: a whole trade none of whose subjects this catalog carries.
    for trade in _WHOLE_TRADE_INDEX.found(_fixed(text_words)):
        if not (TRADES[trade][1] & carried):
            unknown_trade = True
    named = any(set(words(o.name)) <= set(text_words) for o in catalog)
    not_offered = (unknown_trade and not named) or (
        bool(said - {"car", "mens"}) and not (said & carried) and not scored
    )
    return ServiceReading(tuple([] if not_offered else scored), frozenset(said), not_offered)


def carried_anywhere(catalog: list[ServiceOption]) -> set[str]:
    found: set[str] = set()
    for option in catalog:
        found |= service_subjects(option.name)
    return found


def gloss(text: str) -> str:
    """The subjects ``text`` names, in the vocabulary's English words ("se me tapó el baño" → "drain toilet"), so a
    tenant's own names and aliases (written in English) still find what a Spanish text asks for."""
    return " ".join(sorted(subjects_in(words(text))))
