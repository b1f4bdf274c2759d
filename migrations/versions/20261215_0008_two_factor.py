"""two-factor sign-in: TOTP secrets, recovery codes, and a workspace's requirement

user_two_factor: one row per user (the encrypted TOTP secret, when it was confirmed, the last
time step accepted). user_recovery_codes: keyed hashes of single-use recovery codes. Both are
a person's rows, not a workspace's: each login sees only the signed-in user's (the system
login all). tenants.require_two_factor: owners require 2FA of the workspace's members.

Revision ID: 0008_two_factor
Revises: 0007_login_per_kind
Create Date: 2026-12-15 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from railsaas import dbadmin

revision: str = "0008_two_factor"
down_revision: str | None = "0007_login_per_kind"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_two_factor",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("secret_encrypted", sa.String(length=255), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_two_factor_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_two_factor")),
    )
    op.create_table(
        "user_recovery_codes",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_recovery_codes")),
    )
    op.create_index("ix_user_recovery_codes_user_id", "user_recovery_codes", ["user_id"])
    op.add_column(
        "tenants",
        sa.Column("require_two_factor", sa.Boolean(), server_default="false", nullable=False),
    )
    dbadmin.apply_rls(op.get_bind())
    dbadmin.grant_roles(op.get_bind())


def downgrade() -> None:
    op.drop_column("tenants", "require_two_factor")
    op.drop_table("user_recovery_codes")
    op.drop_table("user_two_factor")
