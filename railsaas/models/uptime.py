"""Uptime: what the worker saw when it asked an instance's public domain (railsaas.uptime).

Raw checks are kept UPTIME_RAW_HOURS, hourly roll-ups UPTIME_ROLLUP_DAYS; the monitor row
holds each instance's schedule and incident state. Derived data without foreign keys, like
usage_rollups: instances are never hard-deleted, and the checker writes many rows a minute."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from railsaas.models.base import Base


class UptimeMonitor(Base):
    """One per checked instance: when it is next due, the last answer, the open incident
    (down for two consecutive checks), and whether it shows on the public status page."""

    __tablename__ = "uptime_monitors"
    __table_args__ = (
        # The checker claims due monitors across workspaces.
        Index("ix_uptime_monitors_next_check_at", "next_check_at"),
        Index("ix_uptime_monitors_tenant_id", "tenant_id"),
    )

    instance_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    next_check_at: Mapped[datetime]
    last_checked_at: Mapped[datetime | None]
    last_up: Mapped[bool | None]
    last_status_code: Mapped[int | None]
    last_latency_ms: Mapped[int | None]
    consecutive_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    # Set when an incident opens (and its owner was told), cleared when it recovers.
    down_since: Mapped[datetime | None]
    public: Mapped[bool] = mapped_column(default=False, server_default="false")


class UptimeCheck(Base):
    """One check: the HTTP status (NULL when nothing answered) and the latency."""

    __tablename__ = "uptime_checks"
    __table_args__ = (
        # tenant_id first: the pages read one workspace's (RLS) instance by instance.
        Index(
            "ix_uptime_checks_tenant_id_instance_id_checked_at",
            "tenant_id",
            "instance_id",
            "checked_at",
        ),
        Index("ix_uptime_checks_checked_at", "checked_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID]
    instance_id: Mapped[uuid.UUID]
    checked_at: Mapped[datetime]
    up: Mapped[bool]
    status_code: Mapped[int | None]
    latency_ms: Mapped[int | None]
    # Why it counted as down without an HTTP status: timeout, refused, private address...
    error: Mapped[str | None] = mapped_column(String(100))


class UptimeHourly(Base):
    """Checks of one instance in one UTC hour, summed (raw checks are dropped after 48 h)."""

    __tablename__ = "uptime_hourly"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "instance_id", "hour"),
        Index("ix_uptime_hourly_hour", "hour"),
    )

    tenant_id: Mapped[uuid.UUID]
    instance_id: Mapped[uuid.UUID]
    hour: Mapped[datetime]
    checks: Mapped[int]
    up_checks: Mapped[int]
    latency_ms_sum: Mapped[int] = mapped_column(BigInteger)  # over checks with a latency
    latency_count: Mapped[int]
    latency_ms_max: Mapped[int | None]
