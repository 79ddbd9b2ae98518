"""conv_messages: a body is at most 1,600 characters, Twilio's limit for one message (inbound or outbound).

A longer body can only have come from a forged or replayed webhook (Twilio never delivers one), so any such row is
cut to the limit first. The constraint is added ``NOT VALID`` and then validated: the check of the existing rows
takes a SHARE UPDATE EXCLUSIVE lock, so webhooks and workers keep writing while it runs.

Revision ID: 0009
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE conv_messages SET body = left(body, 1600) WHERE char_length(body) > 1600")
    op.execute(
        "ALTER TABLE conv_messages ADD CONSTRAINT ck_conv_messages_body_length"
        " CHECK (char_length(body) <= 1600) NOT VALID"
    )
    op.execute("ALTER TABLE conv_messages VALIDATE CONSTRAINT ck_conv_messages_body_length")


def downgrade() -> None:
    op.execute("ALTER TABLE conv_messages DROP CONSTRAINT ck_conv_messages_body_length")
