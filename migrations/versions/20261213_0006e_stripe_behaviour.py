"""Stripe as it really behaves: the plan's metered price, and the time an overage event
carries

plans.stripe_usage_price_id: the metered overage price, created with the meter when an admin
saves the plan (billing.plans), so Checkout only reads it. usage_meter_reports.event_at: the
timestamp sent with the meter event, inside the period the usage belongs to (a report sent
after its period ended still lands on that period's invoice).

Revision ID: 0006e_stripe_behaviour
Revises: 0005_billing_holds
Create Date: 2026-12-13 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006e_stripe_behaviour"
down_revision: str | None = "0006d_uptime"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("plans", sa.Column("stripe_usage_price_id", sa.String(length=255), nullable=True))
    op.add_column(
        "usage_meter_reports", sa.Column("event_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("usage_meter_reports", "event_at")
    op.drop_column("plans", "stripe_usage_price_id")
