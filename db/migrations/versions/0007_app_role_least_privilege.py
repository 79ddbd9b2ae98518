"""nmc_app, the API's role, appends events to the outbox and touches nothing else of the pipeline's bookkeeping.

0003 granted it every table. The API needs exactly one thing of the pipeline: to INSERT its events into
``outbox_events`` in the transaction of its change, naming the envelope's columns. It never reads the outbox, never
marks an event dispatched (or back-dates one: ``created_at``/``dispatched_at`` stay the database's and the
dispatcher's), and has no business with deliveries, processed markers, dead letters or webhook dedupe rows: an
injected or buggy API query must not be able to read other tenants' payloads there or redrive, drop or forge
deliveries. The dispatcher, workers and CLI connect as the owner and keep everything.

Revision ID: 0007
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOOKKEEPING = "outbox_events, outbox_deliveries, processed_events, dead_letters, webhook_events"
ENVELOPE_COLUMNS = "event_id, event_name, schema_version, tenant_id, occurred_at, correlation_id, causation_id, payload"


def upgrade() -> None:
    op.execute(f"REVOKE ALL ON {BOOKKEEPING} FROM nmc_app")
    op.execute(f"GRANT INSERT ({ENVELOPE_COLUMNS}) ON outbox_events TO nmc_app")


def downgrade() -> None:
    op.execute(f"REVOKE INSERT ({ENVELOPE_COLUMNS}) ON outbox_events FROM nmc_app")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {BOOKKEEPING} TO nmc_app")
