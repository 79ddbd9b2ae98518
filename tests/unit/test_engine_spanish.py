"""Spanish in the built-in engine: the language detector, Spanish time phrases and labels (across DST and day
boundaries, on fixed dates), Spanish service words against the eval catalogs, the phrasebook and the guard."""

from __future__ import annotations

import re
import string
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from domain.conversations.engine.builtin import CONFIDENT, MARGIN
from domain.conversations.engine.dates import find_clock, parse_when
from domain.conversations.engine.eval.suite import load_catalogs
from domain.conversations.engine.formatting import hours_in, join_options, slot_label
from domain.conversations.engine.guard import check
from domain.conversations.engine.language import conversation_language, read
from domain.conversations.engine.matching import gloss, rank
from domain.conversations.engine.phrases import PHRASES, phrase
from domain.conversations.engine.ports import AppointmentInfo, BookingAttempt, BookingResult, SlotOption, SlotsFound
from domain.conversations.messaging import count_segments

TZ = "America/New_York"
NY = ZoneInfo(TZ)
SAT_10AM = datetime(2025, 3, 8, 10, 0, tzinfo=NY).astimezone(UTC)  # the day before spring-forward

# --- the detector -------------------------------------------------------------------------------------------------

SPANISH = [
    "se me tapó el baño, ¿pueden venir hoy?",
    "se me tapo el bano pueden venir hoy",  # no accents
    "necesito un plomero",
    "no tengo calefacción",
    "cuánto cuesta destapar un drenaje?",
    "quiero hablar con alguien",
    "número equivocado",
    "hola",
    "¿Tienen algo para mañana en la tarde?",
    "mi carro no arranca",
]
ENGLISH = [
    "Hi this is José, my toilet is running, can you come tomorrow?",  # a Spanish name is not Spanish
    "my name is Ángel Hernández, need a drain cleaning",
    "Can someone come today? - Sofía",
    "toilet repair monday or tuesday",
    "I need a plumber",
    "Hola, my sink is clogged, can you come today?",  # mostly English: answered in English
    "thanks",
    "is Maria available friday",
]


@pytest.mark.parametrize("text", SPANISH)
def test_spanish_texts_read_as_spanish(text: str) -> None:
    assert read(text).language == "es"
    assert conversation_language(text, None) == "es"


@pytest.mark.parametrize("text", ENGLISH)
def test_english_texts_read_as_english_even_with_a_spanish_name(text: str) -> None:
    assert read(text).language == "en"
    assert conversation_language(text, None) == "en"


def test_the_score_is_calibrated_clear_texts_are_sure_and_no_evidence_is_undecided() -> None:
    assert all(read(text).spanish >= 0.85 for text in SPANISH if len(text.split()) >= 3)
    assert all(read(text).spanish <= 0.2 for text in ENGLISH if len(text.split()) >= 3)
    for bare in ("1", "ok", "👍", "2pm"):
        reading = read(bare)
        assert reading.evidence == 0
        assert 0.3 < reading.spanish < 0.5  # leaning to the tenant's English, without evidence either way


def test_a_conversation_keeps_its_language_until_the_caller_clearly_switches() -> None:
    for short in ("1", "ok", "yes", "la 2", "sí", "2pm", "👍"):
        assert conversation_language(short, "es") == "es"
        assert conversation_language(short, "en") == "en"
    assert conversation_language("ok sounds good", "es") == "es"  # too little to switch on
    assert conversation_language("sorry, can you text me in english?", "es") == "en"
    assert conversation_language("actually my drain is clogged, can you come tomorrow morning", "es") == "en"
    assert conversation_language("¿puede escribirme en español?", "en") == "es"
    assert conversation_language("perdón, ¿pueden venir mañana en la tarde?", "en") == "es"
    assert conversation_language("thanks José", "en") == "en"


# --- Spanish time phrases -----------------------------------------------------------------------------------------


def local(moment: datetime | None) -> tuple[str, int, int]:
    assert moment is not None
    value = moment.astimezone(NY)
    return value.date().isoformat(), value.hour, value.minute


@pytest.mark.parametrize(
    ("text", "earliest", "latest"),
    [
        ("manana a las 3", ("2025-03-09", 15, 0), ("2025-03-10", 0, 0)),  # across spring-forward: 3 PM EDT
        ("mañana a las 3 de la tarde", ("2025-03-09", 15, 0), ("2025-03-10", 0, 0)),
        ("mañana en la mañana", ("2025-03-09", 0, 0), ("2025-03-09", 12, 0)),
        ("mañana por la tarde", ("2025-03-09", 12, 0), ("2025-03-09", 17, 0)),
        ("hoy", ("2025-03-08", 10, 0), ("2025-03-09", 0, 0)),
        ("esta noche", ("2025-03-08", 17, 0), ("2025-03-09", 0, 0)),
        ("pasado mañana", ("2025-03-10", 0, 0), ("2025-03-11", 0, 0)),
        ("el lunes", ("2025-03-10", 0, 0), ("2025-03-11", 0, 0)),
        ("el próximo sábado", ("2025-03-15", 0, 0), ("2025-03-16", 0, 0)),
        ("el jueves por la mañana", ("2025-03-13", 0, 0), ("2025-03-13", 12, 0)),
        ("lunes o martes", ("2025-03-10", 0, 0), ("2025-03-12", 0, 0)),
        ("la próxima semana", ("2025-03-10", 0, 0), ("2025-03-17", 0, 0)),
        ("el 20 de marzo", ("2025-03-20", 0, 0), ("2025-03-21", 0, 0)),
        ("después de las 5", ("2025-03-08", 17, 0), ("2025-03-09", 0, 0)),
        ("antes del mediodía", ("2025-03-08", 10, 0), ("2025-03-08", 12, 0)),
        ("mañana no antes de las 10", ("2025-03-09", 10, 0), ("2025-03-10", 0, 0)),
        ("mañana a las diez y media", ("2025-03-09", 10, 30), ("2025-03-10", 0, 0)),
    ],
)
def test_spanish_time_phrases(text: str, earliest: tuple[str, int, int], latest: tuple[str, int, int]) -> None:
    from domain.conversations.engine.intents import normalize

    pref = parse_when(normalize(text), SAT_10AM, TZ)
    assert pref is not None
    assert (local(pref.earliest), local(pref.latest)) == (earliest, latest)


@pytest.mark.parametrize("text", ["lo antes posible", "cuanto antes", "ahorita", "es una emergencia"])
def test_spanish_asap(text: str) -> None:
    pref = parse_when(text, SAT_10AM, TZ)
    assert pref is not None
    assert pref.asap
    assert pref.earliest == SAT_10AM


@pytest.mark.parametrize("text", ["desde ayer gotea", "hace dos dias que no funciona", "desde esta manana"])
def test_when_the_problem_started_is_no_time_wish(text: str) -> None:
    assert parse_when(text, SAT_10AM, TZ) is None


def test_spanish_clock_words() -> None:
    assert find_clock("a las 3") is not None
    assert (find_clock("a las 9 de la noche").hour, find_clock("a las 9 de la noche").relation) == (21, "at")  # type: ignore[union-attr]
    assert find_clock("la 2") is None  # a choice, not a time
    assert find_clock("tengo 2 llantas") is None


# --- Spanish labels -----------------------------------------------------------------------------------------------


def test_spanish_slot_labels_are_local_across_dst_and_day_boundaries() -> None:
    today = date(2025, 3, 8)
    # 10:00 local on the Sunday of spring-forward is 14:00 UTC (EDT), not 15:00.
    sunday = datetime(2025, 3, 9, 14, 0, tzinfo=UTC)
    assert slot_label(sunday, TZ, today, "es") == "domingo 10:00 a. m."
    assert slot_label(sunday, TZ, today) == "Sun 10:00 AM"
    # 03:30 UTC on Monday is still Sunday evening in New York.
    late = datetime(2025, 3, 10, 3, 30, tzinfo=UTC)
    assert slot_label(late, TZ, today, "es") == "domingo 11:30 p. m."
    # Noon and midnight, and a date once the day is a week or more away.
    assert slot_label(datetime(2025, 3, 8, 17, 0, tzinfo=UTC), TZ, today, "es") == "sábado 12:00 p. m."
    far = datetime(2025, 3, 19, 13, 5, tzinfo=UTC)
    assert slot_label(far, TZ, today, "es") == "miércoles 19 de marzo, 9:05 a. m."
    # Autumn: 9:00 local on the first Sunday of November is 14:00 UTC (EST again).
    fall = datetime(2025, 11, 2, 14, 0, tzinfo=UTC)
    assert slot_label(fall, TZ, date(2025, 11, 1), "es") == "domingo 9:00 a. m."


def test_spanish_lists_and_hours() -> None:
    assert join_options(["lunes 9:00 a. m.", "martes 10:00 a. m."], "es") == "lunes 9:00 a. m. o martes 10:00 a. m."
    assert join_options(["a", "b", "c"], "es") == "a, b o c"
    far = ["jueves 20 de marzo, 9:00 a. m.", "viernes 21 de marzo, 9:00 a. m."]
    assert join_options(far, "es") == "jueves 20 de marzo, 9:00 a. m. o viernes 21 de marzo, 9:00 a. m."
    assert hours_in("Mon-Fri 8:00 AM-5:00 PM and Sat 9:00 AM-1:00 PM", "es") == (
        "lun-vie 8:00 a. m.-5:00 p. m. y sáb 9:00 a. m.-1:00 p. m."
    )
    assert hours_in("Mon 8am–5pm, Sat 9am–12pm", "es") == "lun 8 a. m.–5 p. m., sáb 9 a. m.–12 p. m."


# --- Spanish service words ------------------------------------------------------------------------------------------


def top(catalog_key: str, text: str) -> str | None:
    business = load_catalogs()[catalog_key].build()
    tools = business.tools_for("+15550001111", SAT_10AM)
    reading = rank(text, tools.list_services(), tools.match_services(f"{text} {gloss(text)}"))
    if reading.not_offered or not reading.options:
        return None
    first = reading.options[0]
    runner_up = reading.options[1].confidence if len(reading.options) > 1 else 0.0
    # Clear as the engine decides it: sure enough, and no other item within the margin (so it does not ask).
    assert first.confidence >= CONFIDENT, f"{text!r} is unsure: {first}"
    assert not runner_up > first.confidence - MARGIN, f"{text!r} is a tie: {reading.options[:2]}"
    return first.name


@pytest.mark.parametrize(
    ("catalog", "text", "expected"),
    [
        ("plumbing", "se me tapó el baño", "Toilet repair"),
        ("plumbing", "el inodoro no deja de correr", "Toilet repair"),
        ("plumbing", "hay que destapar el drenaje de la cocina", "Drain cleaning"),
        ("plumbing", "tengo una fuga debajo del fregadero", "Emergency leak repair"),
        ("plumbing", "gotea la llave del lavabo", "Faucet repair"),
        ("plumbing", "el calentador de agua no funciona", "Water heater repair"),
        ("plumbing", "quiero instalar un calentador nuevo", "Water heater install"),
        ("hvac", "el aire acondicionado no enfría", "AC repair"),
        ("hvac", "mantenimiento del aire acondicionado", "AC tune-up"),
        ("hvac", "no tengo calefacción", "Furnace repair"),
        ("hvac", "instalar un termostato", "Thermostat install"),
        ("hvac", "limpieza de ductos", "Duct cleaning"),
        ("salon", "un corte de pelo", "Women's haircut"),
        ("salon", "corte de hombre", "Men's haircut"),
        ("salon", "un tinte para las raíces", "Hair color"),
        ("salon", "uñas de gel", "Manicure"),
        ("auto", "cambio de aceite", "Oil change"),
        ("auto", "me rechinan los frenos", "Brake repair"),
        ("auto", "rotación de llantas", "Tire rotation"),
        ("auto", "se prendió la luz del motor", "Check engine diagnostic"),
        ("auto", "el carro no arranca, creo que es la batería", "Battery replacement"),
    ],
)
def test_spanish_service_words_reach_the_catalog(catalog: str, text: str, expected: str) -> None:
    assert top(catalog, text) == expected


@pytest.mark.parametrize(
    ("catalog", "text"),
    [("plumbing", "¿hacen limpieza de canaletas?"), ("plumbing", "necesito un electricista"), ("salon", "un masaje")],
)
def test_spanish_jobs_this_business_does_not_do(catalog: str, text: str) -> None:
    business = load_catalogs()[catalog].build()
    tools = business.tools_for("+15550001111", SAT_10AM)
    assert rank(text, tools.list_services(), tools.match_services(text)).not_offered


# --- the phrasebook -------------------------------------------------------------------------------------------------


def test_both_languages_say_everything_with_the_same_placeholders() -> None:
    assert PHRASES["en"].keys() == PHRASES["es"].keys()
    for key, english in PHRASES["en"].items():
        fields = {name for _, name, _, _ in string.Formatter().parse(english) if name}
        assert fields == {name for _, name, _, _ in string.Formatter().parse(PHRASES["es"][key]) if name}, key


def test_spanish_phrases_stay_gsm7_and_their_accents_are_right() -> None:
    values = {"business": "Acme Plumbing", "service": "Drain cleaning", "when": "martes 9:00 a. m.", "price": "$149",
              "hours": "lun-vie 8 a. m.-5 p. m.", "first": "A", "second": "B", "names": "A o B", "lead": "",
              "labels": "martes 9:00 a. m. o martes 10:00 a. m.", "label": "martes 9:00 a. m.", "opener": "Tengo",
              "for_service": ""}  # fmt: skip
    for key in PHRASES["es"]:
        fields = {name for _, name, _, _ in string.Formatter().parse(PHRASES["es"][key]) if name}
        text = phrase("es", key, **{name: values[name] for name in fields})
        assert count_segments(text).encoding == "GSM-7", f"{key}: {text}"
        assert not re.search(r"\b(?:mas|aqui|numero|dia|dias|cual|telefono|llamenos)\b", text), f"{key}: {text}"
    # A Saturday needs its á: the reply goes as UCS-2, honestly counted.
    saturday = phrase("es", "holding", when="sábado 9:00 a. m.", service="Drain cleaning")
    assert count_segments(saturday).encoding == "UCS-2"
    assert "a. m.." not in phrase("es", "booked", service="X", when="lunes 9:00 a. m.")


# --- the guard reads Spanish ------------------------------------------------------------------------------------------


def test_the_guard_checks_spanish_claims() -> None:
    start = datetime(2025, 3, 11, 13, 0, tzinfo=UTC)  # Tuesday 9:00 AM in New York
    slot = SlotOption(uuid4(), start, start + timedelta(hours=1))
    offered = [SlotsFound((slot,))]
    assert check("Tengo martes 9:00 a. m. para su X. ¿Le sirve?", offered, TZ, SAT_10AM).ok
    assert not check("Tengo martes 11:00 a. m. para su X.", offered, TZ, SAT_10AM).ok
    assert not check("Tengo miércoles 9:00 a. m. para su X.", offered, TZ, SAT_10AM).ok  # the wrong day
    assert not check("¡Listo! Reservé su X para el martes 9:00 a. m.", offered, TZ, SAT_10AM).ok
    booked = [BookingAttempt(uuid4(), BookingResult(AppointmentInfo(uuid4(), uuid4(), "X", slot)))]
    assert check("¡Listo! Reservé su X para el martes 9:00 a. m.", booked, TZ, SAT_10AM).ok
    assert not check("Listo, cancelé su cita.", [], TZ, SAT_10AM).ok
    assert check("Veo su X. ¿Quiere que la cancele?", [], TZ, SAT_10AM).ok  # a question, not a claim
    assert not check("Le aparto el martes 9:00 a. m.", offered, TZ, SAT_10AM).ok  # no hold was placed


@pytest.mark.parametrize(
    ("catalog", "text", "expected"),
    [
        # A symptom in everyday words names the job, and says it is a repair (no "repair or install?").
        ("plumbing", "shower water is only lukewarm", "Water heater repair"),
        ("plumbing", "the water never gets hot anymore", "Water heater repair"),
        ("plumbing", "cold showers all week", "Water heater repair"),
        ("plumbing", "sale agua tibia de la regadera", "Water heater repair"),
        ("plumbing", "se tapó el lavabo del baño", "Drain cleaning"),
        ("plumbing", "hay que cambiar la regadera en el baño, está tapada", "Drain cleaning"),
        ("hvac", "its blowing hot air", "AC repair"),
        ("hvac", "the furnace is not blowing hot air", "Furnace repair"),
        ("hvac", "the unit outside is frozen over", "AC repair"),
        ("hvac", "furnace quit on us", "Furnace repair"),
        ("hvac", "el aire acondicionado echa aire caliente", "AC repair"),
        ("auto", "car wont crank, just clicks", "Battery replacement"),
        ("auto", "my truck wont turn over", "Battery replacement"),
        ("auto", "need a jump start", "Battery replacement"),
        ("salon", "need my gray covered", "Hair color"),
        ("salon", "cover up my grey roots", "Hair color"),
        ("salon", "quiero pintarme el pelo", "Hair color"),
        ("salon", "quiero cubrir mis canas", "Hair color"),
    ],
)
def test_everyday_descriptions_reach_the_catalog(catalog: str, text: str, expected: str) -> None:
    assert top(catalog, text) == expected


@pytest.mark.parametrize(
    ("catalog", "text"),
    [
        ("auto", "do you do smog checks?"),
        ("auto", "car pulls to the right, need a wheel alignment"),
        ("auto", "¿hacen alineación y balanceo?"),
        ("salon", "do yall do spray tans?"),
        ("hvac", "do you guys do plumbing too?"),
        ("plumbing", "are you an hvac company"),
        ("salon", "need a mechanic"),
    ],
)
def test_other_jobs_and_whole_trades_are_not_offered(catalog: str, text: str) -> None:
    business = load_catalogs()[catalog].build()
    tools = business.tools_for("+15550001111", SAT_10AM)
    assert rank(text, tools.list_services(), tools.match_services(text)).not_offered


@pytest.mark.parametrize(
    ("catalog", "text"),
    [("plumbing", "i need a plumber"), ("plumbing", "necesito un plomero"), ("auto", "are you a mechanic?")],
)
def test_a_trade_this_business_is_stays_ours(catalog: str, text: str) -> None:
    business = load_catalogs()[catalog].build()
    tools = business.tools_for("+15550001111", SAT_10AM)
    assert not rank(text, tools.list_services(), tools.match_services(text)).not_offered


def test_a_car_word_alone_does_not_pick_the_car_ac() -> None:
    business = load_catalogs()["auto"].build()
    tools = business.tools_for("+15550001111", SAT_10AM)
    text = "my car is making a weird noise"
    options = rank(text, tools.list_services(), tools.match_services(text)).options
    assert not [option for option in options if option.confidence >= 0.75]
