"""Every table has a retention rule or a written reason why not: a new table cannot slip past retention."""

from __future__ import annotations

from db.retention import EXEMPT, RULES
from domain.models import metadata

# Columns that hold a caller's number, their words or whole payloads: a table with one needs a rule, not a reason.
PERSONAL = {"caller", "phone", "customer_phone", "from_number", "to_number", "body", "payload", "envelope", "note"}
PERSONAL |= {"response_body", "last_error", "traceback"}


def test_every_table_has_a_rule_or_an_exemption() -> None:
    tables = set(metadata.tables)
    ruled = {rule.table for rule in RULES}
    assert not ruled & set(EXEMPT), "a table with a rule needs no exemption"
    assert ruled <= tables, f"rules for tables that do not exist: {sorted(ruled - tables)}"
    assert set(EXEMPT) <= tables, f"exemptions for tables that do not exist: {sorted(set(EXEMPT) - tables)}"
    missing = tables - ruled - set(EXEMPT)
    assert not missing, f"give these tables a rule in db/retention.py or a reason in EXEMPT: {sorted(missing)}"
    assert all(len(reason) > 20 for reason in EXEMPT.values())


def test_tables_holding_personal_data_have_a_rule() -> None:
    # The one exception: deliveries go with their outbox event through the foreign key's ON DELETE CASCADE.
    cascaded = {"outbox_deliveries"}
    for name, table in metadata.tables.items():
        personal = PERSONAL & set(table.columns.keys())
        if personal and name not in cascaded:
            assert name not in EXEMPT, f"{name} holds {sorted(personal)}: it needs a retention rule, not an exemption"
    deliveries = metadata.tables["outbox_deliveries"]
    assert any(fk.column.table.name == "outbox_events" and fk.ondelete == "CASCADE" for fk in deliveries.foreign_keys)
