"""acquisition: spend per month and channel, and where each sign-up came from

acquisition_spend: what was spent to win customers, per calendar month and channel, entered
by platform admins (the numerator of CAC, reporting.business); platform data, so only
platform admins and system jobs read or write it (RLS, like job_failures).
users / tenants .utm_source, .utm_medium, .utm_campaign: the first-touch UTM parameters a
sign-up arrived with (accounts.attribution); the workspace's source is its CAC channel.

Revision ID: 0006b_acquisition
Revises: 0005_billing_holds
Create Date: 2026-12-13 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from railsaas import dbadmin

revision: str = "0006b_acquisition"
down_revision: str | None = "0006e_stripe_behaviour"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTM = ("utm_source", "utm_medium", "utm_campaign")


def upgrade() -> None:
    for table in ("users", "tenants"):
        for column in UTM:
            op.add_column(table, sa.Column(column, sa.String(length=100), nullable=True))
    op.create_table(
        "acquisition_spend",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "amount_cents >= 0", name=op.f("ck_acquisition_spend_amount_not_negative")
        ),
        sa.CheckConstraint(
            "month = date_trunc('month', month)::date",
            name=op.f("ck_acquisition_spend_month_first_day"),
        ),
        sa.CheckConstraint(
            "channel = lower(channel) AND length(channel) BETWEEN 1 AND 100",
            name=op.f("ck_acquisition_spend_channel_normalized"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_acquisition_spend_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acquisition_spend")),
    )
    op.create_index(
        "ix_acquisition_spend_month_channel",
        "acquisition_spend",
        ["month", "channel"],
        unique=False,
    )
    dbadmin.apply_rls(op.get_bind())
    dbadmin.grant_roles(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_acquisition_spend_month_channel", table_name="acquisition_spend")
    op.drop_table("acquisition_spend")
    for table in ("tenants", "users"):
        for column in reversed(UTM):
            op.drop_column(table, column)
