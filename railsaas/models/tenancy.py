"""Workspaces (tenants), who belongs to them, and invitations to join."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from railsaas.models.base import Base, created_at, updated_at, uuid_pk

MEMBER_ROLES = ("owner", "admin", "member", "viewer")


class Tenant(Base):
    """A workspace: the unit of billing and isolation. Every user gets a personal one."""

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended', 'deleted')", name="status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plans.id"))
    # The Railway workspace (pool entry, railsaas.railway.pool) this workspace's instances
    # are deployed into: chosen at its first deploy (the least loaded open one), then pinned.
    railway_workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("railway_workspaces.id")
    )
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Per-workspace spend cap in cents for the current period; NULL means the plan's default.
    spend_cap_cents: Mapped[int | None]
    # 'ok' | 'warned' (80% email sent) | 'capped' (instances stopped) for the current period.
    spend_cap_state: Mapped[str] = mapped_column(String(20), default="ok", server_default="ok")
    # Dunning: when the first unpaid invoice failed; cleared when paid.
    payment_failed_at: Mapped[datetime | None]
    # Where dunning has got to: NULL | 'notified' | 'suspended' | 'deleted' (billing's own
    # state, apart from an admin's suspension in status / suspended_*).
    dunning_stage: Mapped[str | None] = mapped_column(String(20))
    # Over the plan's limits (after a downgrade) since when; the newest instances beyond
    # them stop PLAN_LIMIT_GRACE_DAYS later (billing.limits). NULL: within the plan.
    over_limit_since: Mapped[datetime | None]
    # When the day-before reminder of that stop was sent (once per grace period).
    over_limit_reminded_at: Mapped[datetime | None]
    suspended_at: Mapped[datetime | None]
    # The public status page /status/<slug> (railsaas.uptime.status_page): off by default.
    status_page_enabled: Mapped[bool] = mapped_column(default=False, server_default="false")
    suspended_reason: Mapped[str | None] = mapped_column(String(50))
    # Members must have two-factor sign-in to work in this workspace (owners set it;
    # railsaas.accounts.two_factor): those without it are sent to enrol.
    require_two_factor: Mapped[bool] = mapped_column(default=False, server_default="false")
    # Where the person came from (first touch: the utm_* parameters of the page its
    # creator first opened, kept through sign-up; accounts.attribution). NULL: unknown or direct.
    utm_source: Mapped[str | None] = mapped_column(String(100))
    utm_medium: Mapped[str | None] = mapped_column(String(100))
    utm_campaign: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    memberships: Mapped[list[Membership]] = relationship(back_populates="tenant")
    plan = relationship("Plan", lazy="joined")


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id"),
        Index("ix_memberships_user_id", "user_id"),
        CheckConstraint("role IN ('owner', 'admin', 'member', 'viewer')", name="role"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    tenant: Mapped[Tenant] = relationship(back_populates="memberships")
    user = relationship("User", back_populates="memberships")


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (
        Index("ix_invitations_tenant_id_email", "tenant_id", "email"),
        CheckConstraint("role IN ('admin', 'member', 'viewer', 'owner')", name="role"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
