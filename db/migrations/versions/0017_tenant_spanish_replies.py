"""id_tenants.spanish_replies: whether the AI answers Spanish-speaking callers in Spanish.

On (the default) the engine answers a caller who writes in Spanish in Spanish through the whole booking; off, such a
caller gets one acknowledgement in Spanish and the conversation goes to a person.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'id_tenants', sa.Column('spanish_replies', sa.Boolean(), server_default=sa.text('true'), nullable=False)
    )


def downgrade() -> None:
    op.drop_column('id_tenants', 'spanish_replies')
