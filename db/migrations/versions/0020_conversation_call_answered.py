"""conv_conversations.call_answered_at: when a person last spoke with the caller on the phone (a re-call the business
answered, a staff call back through its Twilio number), so the one automated follow-up is never sent after it.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('conv_conversations', sa.Column('call_answered_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('conv_conversations', 'call_answered_at')
