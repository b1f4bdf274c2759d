"""personal API tokens: the lookup before anyone is known

A Bearer token arrives before RLS knows a user or workspace, so api_tokens shows no rows.
One narrow SECURITY DEFINER function (pinned search_path, like auth_find_user) finds a token
by its SHA-256 and returns only what authentication needs: never the hash, never the name.
The owner role it runs as reads api_tokens through a SELECT-only policy of its own; the app
role is not a member of the owner role, so that policy never applies to it.

Revision ID: 0004_api_tokens
Revises: 0003_usage_rollups
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

from alembic import op

from railsaas.config import Config

revision: str = "0004_api_tokens"
down_revision: str | None = "0003_usage_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    app_role = bind.dialect.identifier_preparer.quote_identifier(Config().APP_DB_USER)
    op.execute("DROP POLICY IF EXISTS api_token_definer_read ON api_tokens")
    op.execute(
        "CREATE POLICY api_token_definer_read ON api_tokens FOR SELECT TO CURRENT_USER USING (true)"
    )
    op.execute("""
        CREATE OR REPLACE FUNCTION auth_find_api_token(p_token_hash text)
        RETURNS TABLE (id uuid, tenant_id uuid, user_id uuid, scopes text[],
                       expires_at timestamptz, revoked_at timestamptz,
                       last_used_at timestamptz)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
            SELECT t.id, t.tenant_id, t.user_id, t.scopes::text[], t.expires_at,
                   t.revoked_at, t.last_used_at
            FROM public.api_tokens t WHERE t.token_hash = p_token_hash
        $$
    """)
    op.execute("REVOKE ALL ON FUNCTION auth_find_api_token(text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION auth_find_api_token(text) TO {app_role}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS auth_find_api_token(text)")
    op.execute("DROP POLICY IF EXISTS api_token_definer_read ON api_tokens")
