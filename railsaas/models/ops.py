"""What the operators need to see that no customer owns: background jobs that failed, and
what the business spent to win customers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from railsaas.models.base import Base, created_at


class JobFailure(Base):
    """A Celery task that raised and will not be retried (the final failure), kept for the
    admin's "failed jobs" page. Written by the worker's task_failure hook. Readable and
    writable only by platform admins and system jobs (RLS)."""

    __tablename__ = "job_failures"
    __table_args__ = (
        Index("ix_job_failures_failed_at", "failed_at"),
        Index("ix_job_failures_open", "failed_at", postgresql_where=text("resolved_at IS NULL")),
        Index("ix_job_failures_tenant_id_failed_at", "tenant_id", "failed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    task_name: Mapped[str] = mapped_column(String(255))
    task_id: Mapped[str | None] = mapped_column(String(255))
    # From the task's tenant_id argument, when it has one (no FK: kept after the tenant goes).
    tenant_id: Mapped[uuid.UUID | None]
    # The task's keyword arguments (ids and plain values, by the tasks convention), redacted.
    args: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    exception_type: Mapped[str] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)  # redacted, truncated
    traceback: Mapped[str | None] = mapped_column(Text)  # redacted, truncated
    retries: Mapped[int] = mapped_column(default=0, server_default="0")
    request_id: Mapped[str | None] = mapped_column(String(128))
    failed_at: Mapped[datetime] = created_at()
    # 'retried' (sent again) or 'dismissed', by an admin.
    resolution: Mapped[str | None] = mapped_column(String(20))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class AcquisitionSpend(Base):
    """Money spent to acquire customers in a calendar month through a channel (an ad network,
    a sponsorship), entered by a platform admin; the numerator of CAC (reporting.business).
    `channel` is compared with the workspaces' utm_source, both lower-case. Platform data:
    only platform admins and system jobs read or write it (RLS)."""

    __tablename__ = "acquisition_spend"
    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        CheckConstraint("month = date_trunc('month', month)::date", name="month_first_day"),
        CheckConstraint(
            "channel = lower(channel) AND length(channel) BETWEEN 1 AND 100",
            name="channel_normalized",
        ),
        Index("ix_acquisition_spend_month_channel", "month", "channel"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    month: Mapped[date]  # the first day of the month
    channel: Mapped[str] = mapped_column(String(100))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at()
