"""conv_conversations.handoff_ack_message_id: the one automated message a takeover lets through.

When a caller asks for a person (or to stop), the reply that says so is queued in the same transaction that hands
the conversation to a human. The sender blocks automated messages to a conversation a human holds; this column
names the acknowledgement it may still send, so the caller hears that one message and nothing automated after it.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('conv_conversations', sa.Column('handoff_ack_message_id', postgresql.UUID(as_uuid=True)))


def downgrade() -> None:
    op.drop_column('conv_conversations', 'handoff_ack_message_id')
