"""a pool of Railway workspaces: railway_workspaces, and where each workspace is placed

railway_workspaces (railsaas.railway.pool): platform data, read and written by the admin and
system logins only. tenants.railway_workspace_id: the pool entry a customer workspace is
placed on at its first deploy (pinned); instances.railway_workspace_id: the entry its
Railway project lives in.

Data: the first entry is the environment's (token_source 'environment'): its token,
workspace id and plan stay today's settings (RAILWAY_API_TOKEN, RAILWAY_WORKSPACE_ID,
RAILWAY_PLAN), read at run time and never copied into the database, so `make dev`, tests and
an existing deployment keep working unchanged and need no RAILWAY_TOKEN_KEY. Existing
instances, and the workspaces that have some, are placed on it.

Revision ID: 0009_railway_pool
Revises: 0008_two_factor
Create Date: 2026-12-15 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from railsaas import dbadmin

revision: str = "0009_railway_pool"
down_revision: str | None = "0008_two_factor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "railway_workspaces",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("railway_workspace_id", sa.String(length=100), nullable=True),
        sa.Column("token_source", sa.String(length=20), nullable=False),
        sa.Column("token_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("token_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("plan", sa.String(length=20), server_default="pro", nullable=False),
        sa.Column("rate_per_hour", sa.Integer(), nullable=True),
        sa.Column("rate_per_second", sa.Integer(), nullable=True),
        sa.Column("usage_limit_cents", sa.Integer(), nullable=True),
        sa.Column("spend_cents", sa.Integer(), nullable=True),
        sa.Column("spend_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("spend_alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=20), server_default="open", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "state IN ('open', 'draining', 'closed')", name=op.f("ck_railway_workspaces_state")
        ),
        sa.CheckConstraint(
            "token_source IN ('environment', 'stored')",
            name=op.f("ck_railway_workspaces_token_source"),
        ),
        sa.CheckConstraint(
            "token_source = 'environment' OR "
            "(token_ciphertext IS NOT NULL AND railway_workspace_id IS NOT NULL)",
            name=op.f("ck_railway_workspaces_stored_has_token"),
        ),
        sa.CheckConstraint(
            "plan IN ('free', 'hobby', 'pro')", name=op.f("ck_railway_workspaces_plan")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_railway_workspaces")),
        sa.UniqueConstraint("name", name=op.f("uq_railway_workspaces_name")),
    )
    op.create_index(
        "uq_railway_workspaces_environment",
        "railway_workspaces",
        ["token_source"],
        unique=True,
        postgresql_where=sa.text("token_source = 'environment'"),
    )
    op.create_index(
        "uq_railway_workspaces_railway_workspace_id",
        "railway_workspaces",
        ["railway_workspace_id"],
        unique=True,
        postgresql_where=sa.text("railway_workspace_id IS NOT NULL"),
    )
    for table in ("tenants", "instances"):
        op.add_column(table, sa.Column("railway_workspace_id", sa.UUID(), nullable=True))
        op.create_foreign_key(
            op.f(f"fk_{table}_railway_workspace_id_railway_workspaces"),
            table,
            "railway_workspaces",
            ["railway_workspace_id"],
            ["id"],
        )
    op.create_index(
        "ix_instances_railway_workspace_id_next_poll_at",
        "instances",
        ["railway_workspace_id", "next_poll_at"],
    )
    # The environment's entry, and everything deployed so far is there.
    op.execute(
        "INSERT INTO railway_workspaces (name, token_source, state) "
        "VALUES ('primary', 'environment', 'open')"
    )
    op.execute(
        "UPDATE instances SET railway_workspace_id = "
        "(SELECT id FROM railway_workspaces WHERE token_source = 'environment')"
    )
    op.execute(
        "UPDATE tenants SET railway_workspace_id = "
        "(SELECT id FROM railway_workspaces WHERE token_source = 'environment') "
        "WHERE id IN (SELECT tenant_id FROM instances)"
    )
    bind = op.get_bind()
    dbadmin.apply_rls(bind)
    dbadmin.grant_roles(bind)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS railway_place_workspace(uuid, boolean)")
    op.drop_index("ix_instances_railway_workspace_id_next_poll_at", table_name="instances")
    for table in ("instances", "tenants"):
        op.drop_constraint(
            op.f(f"fk_{table}_railway_workspace_id_railway_workspaces"), table, type_="foreignkey"
        )
        op.drop_column(table, "railway_workspace_id")
    op.drop_table("railway_workspaces")
