"""identity/compliance/billing: tenant isolation with row-level security, the nmc_app role, plans seed,
API idempotency keys, feature-gate ordering.

Row-level security is the second wall behind the ``tenant_id`` filter every query carries. The operator API runs
each transaction as ``SET LOCAL ROLE nmc_app`` with ``set_config('app.tenant_id', …, true)``; ``nmc_app`` is not the
tables' owner and not a superuser, so the policies bind it. Migrations, the dispatcher and the workers connect as the
owner, which bypasses RLS by design (they work across tenants and scope by ``tenant_id`` themselves).

Every table that has a ``tenant_id`` column when this runs gets the policy; a later migration adding such a table
calls ``SELECT nmc_enable_tenant_rls('table_name')`` (a test checks that none is missed).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"
TENANT_QUOTED = TENANT.replace("'", "''")  # inside the format() literal below


def upgrade() -> None:
    op.add_column('id_feature_gates', sa.Column('source_created', sa.BigInteger(), server_default='0', nullable=False))
    op.create_table(
        'id_api_idempotency_keys',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('key', sa.Text(), nullable=False),
        sa.Column('request_fingerprint', sa.Text(), nullable=False),
        sa.Column('response_status', sa.Integer(), nullable=False),
        sa.Column('response_body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(
            ['tenant_id'], ['id_tenants.id'], name=op.f('fk_id_api_idempotency_keys_tenant_id_id_tenants'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('tenant_id', 'key', name=op.f('pk_id_api_idempotency_keys')),
    )
    op.create_index('ix_id_api_idempotency_keys_created_at', 'id_api_idempotency_keys', ['created_at'])

    # Plans and what they gate are data. past_due keeps the plan's gates open for past_due_grace_days.
    op.execute(
        """
        INSERT INTO id_plans (code, name, gates, past_due_grace_days) VALUES
          ('starter', 'Starter', '{"sms": true, "ai_replies": true, "human_takeover": true, "scheduling": true,
             "calendar_sync": false, "reporting": false}'::jsonb, 7),
          ('pro', 'Pro', '{"sms": true, "ai_replies": true, "human_takeover": true, "scheduling": true,
             "calendar_sync": true, "reporting": true}'::jsonb, 14)
        ON CONFLICT (code) DO NOTHING
        """
    )
    op.execute(
        """
        INSERT INTO bill_plan_prices (stripe_price_id, plan_code) VALUES
          ('price_starter_monthly', 'starter'), ('price_pro_monthly', 'pro')
        ON CONFLICT (stripe_price_id) DO NOTHING
        """
    )

    # Roles are cluster-wide: create once, tolerate a concurrent migration of another database doing the same.
    op.execute(
        """
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nmc_app') THEN
            CREATE ROLE nmc_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
          END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$
        """
    )
    op.execute("GRANT USAGE ON SCHEMA public TO nmc_app")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO nmc_app")
    op.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO nmc_app")
    op.execute("REVOKE INSERT, UPDATE, DELETE ON id_plans, bill_plan_prices, alembic_version FROM nmc_app")
    op.execute("REVOKE SELECT ON alembic_version FROM nmc_app")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO nmc_app")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO nmc_app")

    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION nmc_enable_tenant_rls(target regclass) RETURNS void
        LANGUAGE plpgsql AS $fn$
        BEGIN
          EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
          EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', target);
          EXECUTE format(
            'CREATE POLICY tenant_isolation ON %s USING (tenant_id = {TENANT_QUOTED}) WITH CHECK (tenant_id = {TENANT_QUOTED})',
            target);
        END $fn$
        """
    )
    op.execute(
        """
        DO $$ DECLARE t record; BEGIN
          FOR t IN SELECT c.table_name FROM information_schema.columns c
                   JOIN information_schema.tables tb USING (table_schema, table_name)
                   WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND tb.table_type = 'BASE TABLE'
          LOOP
            PERFORM nmc_enable_tenant_rls(t.table_name::regclass);
          END LOOP;
        END $$
        """
    )
    op.execute("ALTER TABLE id_tenants ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON id_tenants USING (id = {TENANT}) WITH CHECK (id = {TENANT})")
    # A user is visible to the app role only through a membership of the current tenant (itself RLS-filtered).
    op.execute("ALTER TABLE id_users ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY member_of_tenant ON id_users USING "
        "(EXISTS (SELECT 1 FROM id_memberships m WHERE m.user_id = id_users.id))"
    )
    # Adding a member needs the user's id whether or not another tenant knows them: a narrow definer function.
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


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS nmc_user_id_for(text, text)")
    op.execute("DROP POLICY IF EXISTS member_of_tenant ON id_users")
    op.execute("ALTER TABLE id_users DISABLE ROW LEVEL SECURITY")
    op.execute(
        """
        DO $$ DECLARE t record; BEGIN
          FOR t IN SELECT tablename FROM pg_policies WHERE schemaname = 'public' AND policyname = 'tenant_isolation'
          LOOP
            EXECUTE format('DROP POLICY tenant_isolation ON %I', t.tablename);
            EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t.tablename);
          END LOOP;
        END $$
        """
    )
    op.execute("DROP FUNCTION IF EXISTS nmc_enable_tenant_rls(regclass)")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM nmc_app")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM nmc_app")
    op.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM nmc_app")
    op.execute("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM nmc_app")
    op.execute("REVOKE USAGE ON SCHEMA public FROM nmc_app")
    # The role itself is cluster-wide and may serve other databases: it stays.
    op.execute("DELETE FROM bill_plan_prices WHERE stripe_price_id IN ('price_starter_monthly', 'price_pro_monthly')")
    op.execute("DELETE FROM id_plans WHERE code IN ('starter', 'pro')")
    op.drop_index('ix_id_api_idempotency_keys_created_at', table_name='id_api_idempotency_keys')
    op.drop_table('id_api_idempotency_keys')
    op.drop_column('id_feature_gates', 'source_created')
