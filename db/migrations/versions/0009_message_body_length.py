"""conv_messages: a body is at most 1,600 characters, Twilio's limit for one message (inbound or outbound).

``NOT VALID``: new and updated rows are checked from now on without a scan (and lock) of the existing history; a
row longer than the limit could only have come from a forged webhook, and retention purges it in time.

Revision ID: 0009
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE conv_messages ADD CONSTRAINT ck_conv_messages_body_length"
        " CHECK (char_length(body) <= 1600) NOT VALID"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE conv_messages DROP CONSTRAINT ck_conv_messages_body_length")
