"""identity: memberships by invitation; a user's profile only from their own token; a default tenant per user.

``POST /v1/users`` let an OWNER attach any Clerk user id to their tenant and write that user's (global) email
through ``nmc_user_id_for``. That function goes; a membership is now made only by the invited user accepting an
``id_invitations`` row (the token's SHA-256 is stored, never the token). ``id_memberships.is_default`` (at most one
per user) is the tenant a request without ``X-Tenant-Id`` or an organization claim acts for, so a second membership
never changes where the first one's requests go; every user who has exactly one membership today gets it as default.
``id_tenants.clerk_org_id`` maps a Clerk organization to a tenant.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

E164 = "'^\\+[1-9][0-9]{6,14}$'"


def upgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS nmc_user_id_for(text, text)")
    op.add_column('id_users', sa.Column('name', sa.Text(), nullable=True))
    op.add_column('id_tenants', sa.Column('clerk_org_id', sa.Text(), nullable=True))
    op.create_unique_constraint(op.f('uq_id_tenants_clerk_org_id'), 'id_tenants', ['clerk_org_id'])
    op.add_column('id_memberships', sa.Column('email', sa.Text(), nullable=True))
    op.add_column('id_memberships', sa.Column('mobile', sa.Text(), nullable=True))
    op.add_column(
        'id_memberships', sa.Column('is_default', sa.Boolean(), server_default=sa.text('false'), nullable=False)
    )
    op.create_check_constraint(
        op.f('ck_id_memberships_mobile_e164'), 'id_memberships', f"mobile IS NULL OR mobile ~ {E164}"
    )
    op.execute(
        """
        UPDATE id_memberships m SET is_default = true
        WHERE (SELECT count(*) FROM id_memberships o WHERE o.user_id = m.user_id) = 1
        """
    )
    op.create_index(
        'uq_id_memberships_default', 'id_memberships', ['user_id'], unique=True, postgresql_where=sa.text('is_default')
    )
    op.create_table(
        'id_invitations',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('email', sa.Text(), nullable=False),
        sa.Column('role', sa.Text(), nullable=False),
        sa.Column('mobile', sa.Text(), nullable=True),
        sa.Column('token_hash', sa.Text(), nullable=False),
        sa.Column('invited_by', sa.UUID(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('accepted_by', sa.UUID(), nullable=True),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('OWNER', 'TECH')", name=op.f('ck_id_invitations_role')),
        sa.CheckConstraint(
            "email = lower(btrim(email)) AND email LIKE '_%@_%'", name=op.f('ck_id_invitations_email_normalised')
        ),
        sa.CheckConstraint(f"mobile IS NULL OR mobile ~ {E164}", name=op.f('ck_id_invitations_mobile_e164')),
        sa.CheckConstraint(
            'accepted_at IS NULL OR revoked_at IS NULL', name=op.f('ck_id_invitations_accepted_or_revoked')
        ),
        sa.ForeignKeyConstraint(
            ['tenant_id'], ['id_tenants.id'], name=op.f('fk_id_invitations_tenant_id_id_tenants'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['invited_by'], ['id_users.id'], name=op.f('fk_id_invitations_invited_by_id_users'), ondelete='SET NULL'
        ),
        sa.ForeignKeyConstraint(
            ['accepted_by'], ['id_users.id'], name=op.f('fk_id_invitations_accepted_by_id_users'), ondelete='SET NULL'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_id_invitations')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_id_invitations_token_hash')),
    )
    op.create_index(op.f('ix_id_invitations_tenant_id'), 'id_invitations', ['tenant_id'])
    op.create_index(
        'uq_id_invitations_open',
        'id_invitations',
        ['tenant_id', 'email'],
        unique=True,
        postgresql_where=sa.text('accepted_at IS NULL AND revoked_at IS NULL'),
    )
    op.execute("SELECT nmc_enable_tenant_rls('id_invitations')")


def downgrade() -> None:
    op.drop_table('id_invitations')
    op.drop_index('uq_id_memberships_default', table_name='id_memberships')
    op.drop_constraint(op.f('ck_id_memberships_mobile_e164'), 'id_memberships', type_='check')
    op.drop_column('id_memberships', 'is_default')
    op.drop_column('id_memberships', 'mobile')
    op.drop_column('id_memberships', 'email')
    op.drop_constraint(op.f('uq_id_tenants_clerk_org_id'), 'id_tenants', type_='unique')
    op.drop_column('id_tenants', 'clerk_org_id')
    op.drop_column('id_users', 'name')
    op.execute(
        """
        CREATE OR REPLACE FUNCTION nmc_user_id_for(p_clerk_user_id text, p_email text) RETURNS uuid
        LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
          INSERT INTO id_users (id, clerk_user_id, email) VALUES (gen_random_uuid(), p_clerk_user_id, p_email)
          ON CONFLICT (clerk_user_id) DO UPDATE SET email = coalesce(EXCLUDED.email, id_users.email)
          RETURNING id
        $fn$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION nmc_user_id_for(text, text) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION nmc_user_id_for(text, text) TO nmc_app")
