"""rep_*: what reporting per day in the tenant's own time zone needs.

* ``rep_quarter_hour_tenant_stats``: the daily counters per quarter hour (UTC instants on :00/:15/:30/:45). Every
  zone's offset is a whole number of quarter hours, so a tenant's local day is an exact sum of its quarter hours.
  Filled from the existing daily rows at 12:00 UTC of their day (the best that is known of them: noon UTC is
  on the same date in every zone from UTC-11 to UTC+11); ``nmc report
  --rebuild`` recomputes them exactly from the events the outbox still holds.
* ``rep_first_responses.occurred_at``: when the reply was queued, so P50/P95 are per local day too; NULL on the
  samples already recorded (they count on their UTC day).

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE rep_quarter_hour_tenant_stats (
            tenant_id uuid NOT NULL,
            starts_at timestamptz NOT NULL,
            missed_calls integer DEFAULT '0' NOT NULL,
            conversations integer DEFAULT '0' NOT NULL,
            bookings integer DEFAULT '0' NOT NULL,
            recovered_revenue_cents bigint DEFAULT '0' NOT NULL,
            opt_outs integer DEFAULT '0' NOT NULL,
            takeovers integer DEFAULT '0' NOT NULL,
            CONSTRAINT pk_rep_quarter_hour_tenant_stats PRIMARY KEY (tenant_id, starts_at)
        )
        """
    )
    op.execute(
        """
        INSERT INTO rep_quarter_hour_tenant_stats
            (tenant_id, starts_at, missed_calls, conversations, bookings, recovered_revenue_cents, opt_outs, takeovers)
        SELECT tenant_id, (day + time '12:00') AT TIME ZONE 'UTC', missed_calls, conversations, bookings,
               recovered_revenue_cents, opt_outs, takeovers
          FROM rep_daily_tenant_stats
        """
    )
    op.execute("SELECT nmc_enable_tenant_rls('rep_quarter_hour_tenant_stats'::regclass)")
    op.execute("ALTER TABLE rep_first_responses ADD COLUMN occurred_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE rep_first_responses DROP COLUMN occurred_at")
    op.execute("DROP TABLE rep_quarter_hour_tenant_stats")
