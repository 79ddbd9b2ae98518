"""nmc_uuid_v7(at): time-ordered ids (RFC 9562 version 7: 48 bits of Unix milliseconds, then random bits) for the
outbox's deliveries, as the producers now mint for its events.

With random (version 4) ids every insert into ``outbox_deliveries`` (its primary key and its ``(event_id, handler)``
key) and ``processed_events`` landed on a random leaf of a B-tree that grows with the history: at 10 M events of
history (20 M deliveries) those leaves no longer fit in memory, and ``nmc bench outbox-history`` measured the
dispatcher's claim + fan-out P95 at 1.7x its small-history figure, with 30 % more buffers. Time-ordered ids insert
at the right edge of each index, whose pages stay hot however long the history is.

PostgreSQL 15 has no uuidv7() (18 does): the timestamp overwrites the first 48 bits of a random UUID, and the
version nibble 4 becomes 7 by setting two bits.

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION nmc_uuid_v7(at timestamptz DEFAULT clock_timestamp()) RETURNS uuid
        LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
            SELECT encode(
                set_bit(set_bit(
                    overlay(uuid_send(gen_random_uuid())
                            PLACING substring(int8send(floor(extract(epoch FROM at) * 1000)::bigint) FROM 3)
                            FROM 1 FOR 6),
                    52, 1), 53, 1),
                'hex')::uuid
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS nmc_uuid_v7(timestamptz)")
