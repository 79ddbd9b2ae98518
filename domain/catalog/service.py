"""Catalog use cases: service items with Duration and Money, aliases, and matching a caller's words to items.

Matching is alias + fuzzy (rapidfuzz): the whole phrase against each name/alias (token-set similarity, so word order
and filler words do not matter) and word against word (so "leek" still finds "leak"). Only active items are ever
returned; the confidence lets the conversation ask "did you mean…?" when it is unsure.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from domain.catalog.models import Alias, ServiceItem
from domain.events.catalog import Money, ServiceItemChanged
from domain.events.sink import EventSink

# Words that describe every job and so tell items apart poorly; they never carry a word-level match alone.
_GENERIC = frozenset(
    {
        "repair",
        "repairs",
        "service",
        "services",
        "cleaning",
        "call",
        "out",
        "fix",
        "fixing",
        "up",
        "tune",
        "new",
        "install",
        "installation",
        "the",
        "and",
        "for",
        "with",
        "my",
        "our",
        "is",
        "not",
        "a",
        "an",
        "of",
        "in",
        "on",
    }
)
MIN_CONFIDENCE = 0.55
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class ServiceItemRecord:
    """A service item as the catalog hands it out: a frozen copy, never the ORM row."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    description: str | None
    duration_minutes: int
    price_cents: int
    currency: str
    active: bool
    created_at: datetime | None
    updated_at: datetime | None


def _record(item: ServiceItem) -> ServiceItemRecord:
    return ServiceItemRecord(
        item.id,
        item.tenant_id,
        item.name,
        item.description,
        item.duration_minutes,
        item.price_cents,
        item.currency,
        item.active,
        item.created_at,
        item.updated_at,
    )


class CatalogError(Exception):
    pass


class ServiceItemNotFound(CatalogError):
    def __init__(self, service_item_id: uuid.UUID) -> None:
        super().__init__(f"service item {service_item_id} not found")
        self.service_item_id = service_item_id


@dataclass(frozen=True)
class Candidate:
    service_item_id: uuid.UUID
    name: str
    duration_minutes: int
    price_cents: int
    currency: str
    confidence: float
    matched: str  # the name or alias that matched best


def _words(text: str) -> list[str]:
    return [word for word in _WORD.findall(default_process(text)) if word not in _GENERIC and len(word) >= 3]


def score(query: str, term: str) -> float:
    """Similarity 0..1 of a caller's phrase to one name or alias."""
    phrase = fuzz.token_set_ratio(query, term, processor=default_process) / 100
    query_words, term_words = _words(query), _words(term)
    coverage = 0.0
    if query_words and term_words:
        # How well each distinctive word of the term is found among the caller's words (typos included),
        # discounted: word evidence is good, not proof.
        found = [max(fuzz.ratio(q, t) for q in query_words) / 100 for t in term_words]
        coverage = 0.92 * sum(found) / len(found)
    return max(phrase, coverage)


def rank(
    query: str, items: Iterable[tuple[ServiceItem | ServiceItemRecord, Sequence[str]]], *, minimum: float
) -> list[Candidate]:
    scored: list[tuple[float, int, Candidate]] = []
    for item, aliases in items:
        best, matched = 0.0, item.name
        for term in (item.name, *aliases):
            value = score(query, term)
            # On a tie the more specific term wins ("no hot water" over "no water").
            if value > best or (value == best and len(_WORD.findall(term.lower())) > len(_WORD.findall(matched))):
                best, matched = value, term
        if best >= minimum:
            candidate = Candidate(
                service_item_id=item.id,
                name=item.name,
                duration_minutes=item.duration_minutes,
                price_cents=item.price_cents,
                currency=item.currency,
                confidence=round(best, 3),
                matched=matched,
            )
            scored.append((best, len(_WORD.findall(matched.lower())), candidate))
    scored.sort(key=lambda entry: (-entry[0], -entry[1], entry[2].name))
    return [candidate for _best, _words_matched, candidate in scored]


@dataclass(frozen=True)
class Menu:
    """The tenant's active items (by name) with their aliases, read once: what one conversation turn lists, matches
    and quotes from, however many times it asks."""

    items: tuple[ServiceItemRecord, ...]
    aliases: Mapping[uuid.UUID, Sequence[str]]

    def match(self, text: str, *, minimum: float = MIN_CONFIDENCE, limit: int = 3) -> list[Candidate]:
        """Items that match the caller's words, best first, each with a confidence in 0..1."""
        if not text.strip():
            return []
        return rank(text, ((item, self.aliases.get(item.id, ())) for item in self.items), minimum=minimum)[:limit]

    def item(self, service_item_id: uuid.UUID) -> ServiceItemRecord:
        """An active item of this menu (raises ServiceItemNotFound for any other)."""
        for item in self.items:
            if item.id == service_item_id:
                return item
        raise ServiceItemNotFound(service_item_id)


def active_menu(session: Session, *, tenant_id: uuid.UUID) -> Menu:
    return Menu(
        tuple(list_service_items(session, tenant_id=tenant_id, active_only=True)),
        aliases_by_item(session, tenant_id=tenant_id),
    )


def match_services(
    session: Session, *, tenant_id: uuid.UUID, text: str, minimum: float = MIN_CONFIDENCE, limit: int = 3
) -> list[Candidate]:
    """Active service items that match the caller's words, best first, each with a confidence in 0..1."""
    if not text.strip():
        return []
    return active_menu(session, tenant_id=tenant_id).match(text, minimum=minimum, limit=limit)


def aliases_by_item(session: Session, *, tenant_id: uuid.UUID) -> dict[uuid.UUID, list[str]]:
    found: dict[uuid.UUID, list[str]] = {}
    for item_id, alias in session.execute(
        select(Alias.service_item_id, Alias.alias).where(Alias.tenant_id == tenant_id).order_by(Alias.alias)
    ):
        found.setdefault(item_id, []).append(alias)
    return found


def _changed(sink: EventSink, item: ServiceItem, now: datetime | None) -> None:
    sink.emit(
        ServiceItemChanged(
            service_item_id=item.id,
            name=item.name,
            duration_minutes=item.duration_minutes,
            price=Money(amount_cents=item.price_cents, currency=item.currency),
            active=item.active,
        ),
        tenant_id=item.tenant_id,
        occurred_at=now,
    )


def create_service_item(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    name: str,
    duration_minutes: int,
    price_cents: int,
    currency: str = "USD",
    aliases: Iterable[str] = (),
    description: str | None = None,
    active: bool = True,
    now: datetime | None = None,
    events: EventSink,
) -> ServiceItemRecord:
    """A new service item (and its aliases) ⇒ ``ServiceItemChanged``. Postgres checks duration 1-480 and money."""
    sink = events
    item = ServiceItem(
        tenant_id=tenant_id,
        name=name.strip(),
        description=description,
        duration_minutes=duration_minutes,
        price_cents=price_cents,
        currency=currency,
        active=active,
    )
    session.add(item)
    session.flush()
    _replace_aliases(session, item, aliases)
    _changed(sink, item, now)
    return _record(item)


def update_service_item(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    service_item_id: uuid.UUID,
    name: str | None = None,
    duration_minutes: int | None = None,
    price_cents: int | None = None,
    currency: str | None = None,
    active: bool | None = None,
    description: str | None = None,
    aliases: Iterable[str] | None = None,
    now: datetime | None = None,
    events: EventSink,
) -> ServiceItemRecord:
    """Change what is given (``aliases`` replaces the list) ⇒ ``ServiceItemChanged``."""
    sink = events
    item = _item_row(session, tenant_id=tenant_id, service_item_id=service_item_id, active_only=False)
    for field, value in (
        ("name", name),
        ("duration_minutes", duration_minutes),
        ("price_cents", price_cents),
        ("currency", currency),
        ("active", active),
        ("description", description),
    ):
        if value is not None:
            setattr(item, field, value)
    item.updated_at = now or datetime.now(UTC)
    session.flush()
    if aliases is not None:
        _replace_aliases(session, item, aliases)
    _changed(sink, item, now)
    return _record(item)


def deactivate_service_item(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    service_item_id: uuid.UUID,
    now: datetime | None = None,
    events: EventSink,
) -> ServiceItemRecord:
    sink = events
    return update_service_item(
        session, tenant_id=tenant_id, service_item_id=service_item_id, active=False, now=now, events=sink
    )


def _replace_aliases(session: Session, item: ServiceItem, aliases: Iterable[str]) -> None:
    session.execute(delete(Alias).where(Alias.tenant_id == item.tenant_id, Alias.service_item_id == item.id))
    unique = sorted({alias.strip().lower() for alias in aliases if alias.strip()})
    if unique:
        session.execute(
            insert(Alias),
            [{"tenant_id": item.tenant_id, "service_item_id": item.id, "alias": alias} for alias in unique],
        )


def get_service_item(
    session: Session, *, tenant_id: uuid.UUID, service_item_id: uuid.UUID, active_only: bool = True
) -> ServiceItemRecord:
    """One item of this tenant; by default only an active one (only active items may be quoted)."""
    return _record(_item_row(session, tenant_id=tenant_id, service_item_id=service_item_id, active_only=active_only))


def _item_row(session: Session, *, tenant_id: uuid.UUID, service_item_id: uuid.UUID, active_only: bool) -> ServiceItem:
    query = select(ServiceItem).where(ServiceItem.id == service_item_id, ServiceItem.tenant_id == tenant_id)
    if active_only:
        query = query.where(ServiceItem.active.is_(True))
    item = session.scalars(query).one_or_none()
    if item is None:
        raise ServiceItemNotFound(service_item_id)
    return item


# The record's fields as columns: every conversation turn lists the catalog, and columns skip the ORM's identity map
# and object construction (the rows are copied into frozen records anyway).
_RECORD_COLUMNS = (
    ServiceItem.id, ServiceItem.tenant_id, ServiceItem.name, ServiceItem.description, ServiceItem.duration_minutes,
    ServiceItem.price_cents, ServiceItem.currency, ServiceItem.active, ServiceItem.created_at, ServiceItem.updated_at,
)  # fmt: skip


def list_service_items(session: Session, *, tenant_id: uuid.UUID, active_only: bool = False) -> list[ServiceItemRecord]:
    query = select(*_RECORD_COLUMNS).where(ServiceItem.tenant_id == tenant_id)
    if active_only:
        query = query.where(ServiceItem.active.is_(True))
    return [ServiceItemRecord(**row._mapping) for row in session.execute(query.order_by(ServiceItem.name))]


def quote(session: Session, *, tenant_id: uuid.UUID, service_item_id: uuid.UUID) -> Candidate:
    """The price and duration to quote for an active item (raises ServiceItemNotFound for an inactive one)."""
    item = get_service_item(session, tenant_id=tenant_id, service_item_id=service_item_id)
    return Candidate(item.id, item.name, item.duration_minutes, item.price_cents, item.currency, 1.0, item.name)


def format_price(price_cents: int, currency: str = "USD") -> str:
    symbol = "$" if currency == "USD" else f"{currency} "
    dollars, cents = divmod(price_cents, 100)
    return f"{symbol}{dollars:,}" if cents == 0 else f"{symbol}{dollars:,}.{cents:02d}"
