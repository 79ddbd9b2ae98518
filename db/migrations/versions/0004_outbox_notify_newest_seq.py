"""outbox: the NOTIFY carries the newest ``seq`` the statement inserted, and an insert of no rows sends none.

Dispatchers use the payload to tell a wake-up for events they claimed themselves in their previous batch (no pause
needed) from one that another dispatcher won (pause briefly, so N dispatchers do not all race for every event).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            newest bigint;
        BEGIN
            SELECT max(seq) INTO newest FROM inserted;
            IF newest IS NOT NULL THEN
                PERFORM pg_notify('outbox', newest::text);
            END IF;
            RETURN NULL;
        END $$;
        DROP TRIGGER outbox_events_notify ON outbox_events;
        CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events
            REFERENCING NEW TABLE AS inserted
            FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER outbox_events_notify ON outbox_events;
        CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('outbox', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events
            FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
        """
    )
