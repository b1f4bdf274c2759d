"""observability: failed background jobs

Revision ID: 0002_observability
Revises: 0001
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from railsaas import dbadmin

revision: str = "0002_observability"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_failures",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("task_name", sa.String(length=255), nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=True),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("args", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("exception_type", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("retries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column(
            "failed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["users.id"],
            name=op.f("fk_job_failures_resolved_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_failures")),
    )
    op.create_index("ix_job_failures_failed_at", "job_failures", ["failed_at"], unique=False)
    op.create_index(
        "ix_job_failures_open",
        "job_failures",
        ["failed_at"],
        unique=False,
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    op.create_index(
        "ix_job_failures_tenant_id_failed_at",
        "job_failures",
        ["tenant_id", "failed_at"],
        unique=False,
    )
    bind = op.get_bind()
    dbadmin.apply_rls(bind)
    dbadmin.grant_roles(bind)


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS privileged_only ON job_failures")
    op.drop_index("ix_job_failures_tenant_id_failed_at", table_name="job_failures")
    op.drop_index(
        "ix_job_failures_open",
        table_name="job_failures",
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    op.drop_index("ix_job_failures_failed_at", table_name="job_failures")
    op.drop_table("job_failures")
