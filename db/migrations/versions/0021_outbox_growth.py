"""outbox growth: retention and its cascades on indexes, and vacuum bounded by the live set, not the history.

Found with ``nmc bench outbox-history`` (docs/scaling.md, "Outbox growth"):

* ``processed_events`` had no index on ``processed_at``: every retention batch of its rule scanned the table (20 M
  markers at 10 M events) for 500 rows;
* ``dead_letters.delivery_id`` had no index: deleting an outbox event cascades to its deliveries and each deleted
  delivery to its dead letters, one scan of ``dead_letters`` (kept 180 days, so it grows with the history) per
  delivery, a thousand per retention batch;
* the claims read the partial indexes (``ix_outbox_events_undispatched``, ``ix_outbox_deliveries_due``) from their
  low end, where every row dispatched or settled since the last vacuum of the indexes left an entry. With the default
  ``autovacuum_vacuum_scale_factor`` (0.2) that is a fifth of the table, and a vacuum that finds dead rows on fewer
  than 2 % of the pages skips the indexes altogether (``vacuum_index_cleanup = auto``): both bounds grow with the
  history. A fixed trigger (100,000 dead rows) with index cleanup always on bounds them by the traffic instead.

The indexes are built CONCURRENTLY: on a live 10 M-row outbox a plain build would block its writers for minutes.

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VACUUM = (
    "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 100000, vacuum_index_cleanup = on"
)
_VACUUM_KEYS = "autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, vacuum_index_cleanup"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            'ix_processed_events_processed_at',
            'processed_events',
            ['processed_at'],
            unique=False,
            postgresql_concurrently=True,
            if_not_exists=True,
        )
        op.create_index(
            'ix_dead_letters_delivery_id',
            'dead_letters',
            ['delivery_id'],
            unique=False,
            postgresql_concurrently=True,
            if_not_exists=True,
        )
    for table in ('outbox_events', 'outbox_deliveries'):
        op.execute(f"ALTER TABLE {table} SET ({_VACUUM})")


def downgrade() -> None:
    for table in ('outbox_events', 'outbox_deliveries'):
        op.execute(f"ALTER TABLE {table} RESET ({_VACUUM_KEYS})")
    with op.get_context().autocommit_block():
        op.drop_index('ix_dead_letters_delivery_id', table_name='dead_letters', postgresql_concurrently=True)
        op.drop_index(
            'ix_processed_events_processed_at', table_name='processed_events', postgresql_concurrently=True
        )
