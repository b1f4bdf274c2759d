"""Plans, subscriptions, Stripe events, raw usage and its roll-ups."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from railsaas.models.base import Base, created_at, updated_at, uuid_pk

# Subscription statuses (Stripe's), grouped once: every feature and report imports these.
SUBSCRIPTION_PAID = ("active", "trialing")  # paying, or in a trial
SUBSCRIPTION_DUNNING = ("past_due", "unpaid")  # a payment failed: dunning runs
SUBSCRIPTION_LIVE = SUBSCRIPTION_PAID + SUBSCRIPTION_DUNNING  # the workspace has the plan
SUBSCRIPTION_PENDING = ("incomplete",)  # Checkout started, first payment not made
SUBSCRIPTION_ENDED = ("canceled", "incomplete_expired")
SUBSCRIPTION_OPEN = SUBSCRIPTION_LIVE + SUBSCRIPTION_PENDING  # not ended (blocks deletion)
# Counted in MRR: paying, trialing, or overdue but still expected to pay (`unpaid` is not).
SUBSCRIPTION_IN_MRR = ("active", "trialing", "past_due")


class Plan(Base):
    """A price list entry. Global: readable by everyone, written by platform admins."""

    __tablename__ = "plans"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    stripe_price_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # The metered overage price for the plan's interval, made at plan sync (billing.plans).
    stripe_usage_price_id: Mapped[str | None] = mapped_column(String(255))
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="usd", server_default="usd")
    interval: Mapped[str] = mapped_column(String(10), default="month", server_default="month")
    max_instances: Mapped[int]
    allowed_tiers: Mapped[list[str]] = mapped_column(ARRAY(String(50)))
    included_usage_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    spend_cap_default_cents: Mapped[int]
    trial_days: Mapped[int] = mapped_column(default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    sort_order: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("idx_subscriptions_user_id", "user_id"),
        Index("ix_subscriptions_tenant_id_status", "tenant_id", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # Who started it (the seed's column); the workspace is what it pays for.
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plans.id"))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    plan_name: Mapped[str] = mapped_column(String(100))
    # Stripe's status: trialing, active, past_due, canceled, unpaid, incomplete, ...
    status: Mapped[str] = mapped_column(String(50))
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False, server_default="false")
    trial_end: Mapped[datetime | None]
    canceled_at: Mapped[datetime | None]
    current_period_start: Mapped[datetime | None]
    current_period_end: Mapped[datetime | None]
    # `created` of the newest Stripe object applied, so older events never win.
    stripe_updated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    plan = relationship("Plan", lazy="joined")


class StripeEvent(Base):
    """Each Stripe event id takes effect once: inserted in the transaction of its effects."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = created_at()
    processed_at: Mapped[datetime | None]


class UsageMetric(Base):
    """Raw usage as collected from Railway, one row per instance, metric and sample time."""

    __tablename__ = "usage_metrics"
    __table_args__ = (
        Index("idx_usage_metrics_instance_id", "instance_id"),
        Index("idx_usage_metrics_recorded_at", "recorded_at"),
        Index("ix_usage_metrics_tenant_id_recorded_at", "tenant_id", "recorded_at"),
        # A collection rerun for the same sample changes nothing.
        UniqueConstraint("tenant_id", "instance_id", "metric_type", "recorded_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    metric_type: Mapped[str] = mapped_column(String(100))
    value: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    unit: Mapped[str] = mapped_column(String(50))
    recorded_at: Mapped[datetime] = created_at()
    # Increases with every insert, so incremental roll-ups read only rows newer than a mark.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)


class UsageRollup(Base):
    """Usage per workspace, UTC day and instance, summed from `usage_metrics` by the
    incremental roll-up (railsaas.billing.usage.rollup): one column per Railway measurement
    (in Railway's units) and `cost_cents`, what Railway charges us for it (fractions of a
    cent kept; the customer's price adds the markup when read).

    Derived data, written only by the roll-up from rows whose keys were checked when they
    were collected: no foreign keys, whose checks would double the cost of a roll-up
    (tenants and instances are never hard-deleted, so nothing dangles)."""

    __tablename__ = "usage_rollups"
    __table_args__ = (
        # The roll-up's upsert target, and the read path (a workspace's days in a period).
        PrimaryKeyConstraint("tenant_id", "day", "instance_id"),
    )

    tenant_id: Mapped[uuid.UUID]
    day: Mapped[date]
    instance_id: Mapped[uuid.UUID]
    cpu_vcpu_minutes: Mapped[Decimal] = mapped_column(Numeric(24, 6))
    memory_gb_minutes: Mapped[Decimal] = mapped_column(Numeric(24, 6))
    disk_gb_minutes: Mapped[Decimal] = mapped_column(Numeric(24, 6))
    backup_gb_minutes: Mapped[Decimal] = mapped_column(Numeric(24, 6))
    egress_gb: Mapped[Decimal] = mapped_column(Numeric(24, 6))
    cost_cents: Mapped[Decimal] = mapped_column(Numeric(24, 10))
    updated_at: Mapped[datetime] = updated_at()


class UsageRollupMark(Base):
    """How far a roll-up has read `usage_metrics` (its `seq`). System jobs only."""

    __tablename__ = "usage_rollup_marks"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = updated_at()


class UsageMeterReport(Base):
    """Overage sent (or about to be sent) to Stripe as a billing meter event. Written before
    the call and marked sent after it: a retry resends the same identifier, which Stripe
    counts once."""

    __tablename__ = "usage_meter_reports"
    __table_args__ = (
        Index("ix_usage_meter_reports_tenant_id_period_start", "tenant_id", "period_start"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    period_start: Mapped[date]
    identifier: Mapped[str] = mapped_column(String(200), unique=True)
    value_cents: Mapped[int]
    stripe_customer_id: Mapped[str] = mapped_column(String(255))
    # The meter event's timestamp: inside the period the usage belongs to (billing.overage).
    event_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    sent_at: Mapped[datetime | None]


class TrialClaim(Base):
    """A free trial given: one per person, per Stripe customer and per card (each column is
    unique, so a second claim by any of them fails). Not a workspace's row: a person's
    claims outlive the workspace they were made in (billing.trials)."""

    __tablename__ = "trial_claims"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    card_fingerprint: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = created_at()
