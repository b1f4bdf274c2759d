"""The pool of Railway workspaces customer projects are deployed into (railsaas.railway.pool).

Platform data, not a workspace's: only the admin and system logins see it (RLS). A customer
workspace (`tenants.railway_workspace_id`) is placed on one entry at its first deploy and
stays there; each instance records the entry its Railway project lives in
(`instances.railway_workspace_id`; NULL: the environment's entry, for rows from before the
pool).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from railsaas.models.base import Base, created_at, updated_at, uuid_pk

POOL_STATES = ("open", "draining", "closed")


class RailwayWorkspace(Base):
    """One Railway workspace and the token RailSaaS talks to it with.

    `token_source` 'environment': the first entry, whose token, workspace id, plan and rate
    overrides are today's settings (RAILWAY_API_TOKEN, RAILWAY_WORKSPACE_ID, RAILWAY_PLAN,
    RAILWAY_RATE_*), read at run time, never copied here. 'stored': the token is encrypted
    with RAILWAY_TOKEN_KEY (Fernet) in `token_ciphertext` and never shown again.
    State: open (takes new customer workspaces), draining (keeps its own, takes no new ones),
    closed (retired: nothing runs there)."""

    __tablename__ = "railway_workspaces"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'draining', 'closed')", name="state"),
        CheckConstraint("token_source IN ('environment', 'stored')", name="token_source"),
        CheckConstraint(
            "token_source = 'environment' OR "
            "(token_ciphertext IS NOT NULL AND railway_workspace_id IS NOT NULL)",
            name="stored_has_token",
        ),
        CheckConstraint("plan IN ('free', 'hobby', 'pro')", name="plan"),
        # One entry speaks for the environment's settings.
        Index(
            "uq_railway_workspaces_environment",
            "token_source",
            unique=True,
            postgresql_where=text("token_source = 'environment'"),
        ),
        Index(
            "uq_railway_workspaces_railway_workspace_id",
            "railway_workspace_id",
            unique=True,
            postgresql_where=text("railway_workspace_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Railway's id of the workspace; NULL for the environment's entry (RAILWAY_WORKSPACE_ID).
    railway_workspace_id: Mapped[str | None] = mapped_column(String(100))
    token_source: Mapped[str] = mapped_column(String(20), default="stored")
    token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Bumped whenever the token changes: processes build a new client for a new version.
    token_version: Mapped[int] = mapped_column(default=1, server_default="1")
    plan: Mapped[str] = mapped_column(String(20), default="pro", server_default="pro")
    rate_per_hour: Mapped[int | None]  # NULL: the plan's
    rate_per_second: Mapped[int | None]
    # Railway's own usage limit for the workspace (at it Railway stops every workload there),
    # in cents; NULL: none set. Spend is this month's usage at Railway's prices, refreshed
    # hourly (railsaas.fleet.spend).
    usage_limit_cents: Mapped[int | None]
    spend_cents: Mapped[int | None]
    spend_checked_at: Mapped[datetime | None]
    # When the admins were last told spend neared the limit (once per month).
    spend_alerted_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
