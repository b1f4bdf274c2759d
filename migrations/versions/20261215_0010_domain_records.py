"""a custom domain's DNS records, as Railway gave them

instances.custom_domain_dns: what Railway's customDomainCreate (and, while the domain is not
verified, the poll) reported for the instance's custom domain: each DNS record the customer
must set with its status, whether Railway verified the domain and the certificate state.
NULL while Railway has not answered; the Settings tab and the API show only these records.

Revision ID: 0010_domain_records
Revises: 0009_railway_pool
Create Date: 2026-12-15 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from railsaas import dbadmin

revision: str = "0010_domain_records"
down_revision: str | None = "0009_railway_pool"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "instances",
        sa.Column("custom_domain_dns", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    dbadmin.grant_roles(op.get_bind())


def downgrade() -> None:
    op.drop_column("instances", "custom_domain_dns")
