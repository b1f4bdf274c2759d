"""uptime history, the public status page and the templates' real median cost

uptime_monitors / uptime_checks / uptime_hourly (railsaas.uptime): tenant tables under the
standard policy. tenants.status_page_enabled: the workspace's public status page.
templates.median_monthly_cents / median_instances: what a template's instances really cost
(railsaas.billing.template_costs).

Revision ID: 0006d_uptime
Revises: 0005_billing_holds
Create Date: 2026-12-13 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from railsaas import dbadmin

revision: str = "0006d_uptime"
down_revision: str | None = "0005_billing_holds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "uptime_monitors",
        sa.Column("instance_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_up", sa.Boolean(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_latency_ms", sa.Integer(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("down_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("public", sa.Boolean(), server_default="false", nullable=False),
        sa.PrimaryKeyConstraint("instance_id", name=op.f("pk_uptime_monitors")),
    )
    op.create_index("ix_uptime_monitors_next_check_at", "uptime_monitors", ["next_check_at"])
    op.create_index("ix_uptime_monitors_tenant_id", "uptime_monitors", ["tenant_id"])
    op.create_table(
        "uptime_checks",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("instance_id", sa.UUID(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("up", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uptime_checks")),
    )
    op.create_index(
        "ix_uptime_checks_tenant_id_instance_id_checked_at",
        "uptime_checks",
        ["tenant_id", "instance_id", "checked_at"],
    )
    op.create_index("ix_uptime_checks_checked_at", "uptime_checks", ["checked_at"])
    op.create_table(
        "uptime_hourly",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("instance_id", sa.UUID(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("up_checks", sa.Integer(), nullable=False),
        sa.Column("latency_ms_sum", sa.BigInteger(), nullable=False),
        sa.Column("latency_count", sa.Integer(), nullable=False),
        sa.Column("latency_ms_max", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "instance_id", "hour", name=op.f("pk_uptime_hourly")),
    )
    op.create_index("ix_uptime_hourly_hour", "uptime_hourly", ["hour"])
    op.add_column(
        "tenants",
        sa.Column("status_page_enabled", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column("templates", sa.Column("median_monthly_cents", sa.Integer(), nullable=True))
    op.add_column("templates", sa.Column("median_instances", sa.Integer(), nullable=True))
    dbadmin.apply_rls(op.get_bind())
    dbadmin.grant_roles(op.get_bind())


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS status_page_workspace(text)")
    op.execute("DROP POLICY IF EXISTS tenant_definer_read ON tenants")
    op.drop_column("templates", "median_instances")
    op.drop_column("templates", "median_monthly_cents")
    op.drop_column("tenants", "status_page_enabled")
    op.drop_table("uptime_hourly")
    op.drop_table("uptime_checks")
    op.drop_table("uptime_monitors")
