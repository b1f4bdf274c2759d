"""billing holds that hold: the plan-limit grace period and one free trial per person

tenants.over_limit_since / over_limit_reminded_at: a downgrade's grace period
(billing.limits). trial_claims: who has had a free trial (billing.trials); a person's row,
not a workspace's: system jobs write it, a signed-in user reads their own.

Revision ID: 0005_billing_holds
Revises: 0004_api_tokens
Create Date: 2026-12-12 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from railsaas import dbadmin

revision: str = "0005_billing_holds"
down_revision: str | None = "0004_api_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tenants", sa.Column("over_limit_since", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "tenants", sa.Column("over_limit_reminded_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "trial_claims",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=True),
        sa.Column("card_fingerprint", sa.String(length=255), nullable=True),
        sa.Column("stripe_subscription_id", sa.String(length=255), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_trial_claims_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_claims")),
        sa.UniqueConstraint("user_id", name=op.f("uq_trial_claims_user_id")),
        sa.UniqueConstraint("stripe_customer_id", name=op.f("uq_trial_claims_stripe_customer_id")),
        sa.UniqueConstraint("card_fingerprint", name=op.f("uq_trial_claims_card_fingerprint")),
        sa.UniqueConstraint(
            "stripe_subscription_id", name=op.f("uq_trial_claims_stripe_subscription_id")
        ),
    )
    dbadmin.apply_rls(op.get_bind())
    dbadmin.grant_roles(op.get_bind())


def downgrade() -> None:
    op.drop_table("trial_claims")
    op.drop_column("tenants", "over_limit_reminded_at")
    op.drop_column("tenants", "over_limit_since")
