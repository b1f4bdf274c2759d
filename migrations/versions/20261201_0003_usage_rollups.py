"""usage roll-ups, overage meter reports, dunning stage

Revision ID: 0003_usage_rollups
Revises: 0002_observability
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from railsaas import dbadmin

revision: str = "0003_usage_rollups"
down_revision: str | None = "0002_observability"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("dunning_stage", sa.String(length=20), nullable=True))
    op.create_table(
        "usage_rollups",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("instance_id", sa.UUID(), nullable=False),
        sa.Column("cpu_vcpu_minutes", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column("memory_gb_minutes", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column("disk_gb_minutes", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column("backup_gb_minutes", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column("egress_gb", sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column("cost_cents", sa.Numeric(precision=24, scale=10), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "day", "instance_id", name=op.f("pk_usage_rollups")),
    )
    op.create_table(
        "usage_rollup_marks",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_usage_rollup_marks")),
    )
    op.create_table(
        "usage_meter_reports",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("value_cents", sa.Integer(), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_usage_meter_reports_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_meter_reports")),
        sa.UniqueConstraint("identifier", name=op.f("uq_usage_meter_reports_identifier")),
    )
    op.create_index(
        "ix_usage_meter_reports_tenant_id_period_start",
        "usage_meter_reports",
        ["tenant_id", "period_start"],
        unique=False,
    )
    dbadmin.apply_rls(op.get_bind())
    dbadmin.grant_roles(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_usage_meter_reports_tenant_id_period_start", table_name="usage_meter_reports")
    op.drop_table("usage_meter_reports")
    op.drop_table("usage_rollup_marks")
    op.drop_table("usage_rollups")
    op.drop_column("tenants", "dunning_stage")
