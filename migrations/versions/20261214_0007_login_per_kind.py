"""a database login per kind of work: web, admin, system

The policies no longer read app.role: which rows a connection sees depends on its login
(sql/rls_policies.sql, docs/security.md). The roles themselves are created by
dbadmin.ensure_roles (in env.py, before any migration); here the policies are re-applied,
each login gets its grants, and the web login loses the right to write users' privileged
columns (role, is_suspended, email_verified, session_version) except through two SECURITY
DEFINER functions.

Revision ID: 0007_login_per_kind
Revises: 0006e_stripe_behaviour
Create Date: 2026-12-14 09:00:00
"""

from collections.abc import Sequence

from alembic import op

from railsaas import dbadmin
from railsaas.config import Config

revision: str = "0007_login_per_kind"
down_revision: str | None = "0006b_acquisition"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    dbadmin.apply_rls(bind)
    dbadmin.grant_roles(bind)


def downgrade() -> None:
    # Back to table-wide grants for the web login; the policies stay those of the current
    # sql/rls_policies.sql, as after every older migration that re-applies it.
    bind = op.get_bind()
    cfg = Config()
    prep = bind.dialect.identifier_preparer
    web = prep.quote_identifier(cfg.APP_DB_USER)
    op.execute(f"GRANT INSERT, UPDATE ON users TO {web}")
    for name in (cfg.ADMIN_DB_USER, cfg.SYSTEM_DB_USER):
        login = prep.quote_identifier(name)
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {login}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {login}")
    op.execute("DROP FUNCTION IF EXISTS auth_mark_email_verified()")
    op.execute("DROP FUNCTION IF EXISTS auth_bump_session_version()")
