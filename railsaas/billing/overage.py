"""Usage beyond the plan's included amount goes to Stripe as billing meter events (1 unit =
1 cent on the subscription's metered price).

Two steps, so that nothing is billed twice or lost:
1. `plan_reports`: for each subscribed workspace, under its row lock, the overage not yet
   reported this period becomes a `usage_meter_reports` row whose identifier is derived from
   our ids and the running total (`overage:<tenant>:<period day>:<total>`). Committed.
2. `send`: each unsent row is sent with that identifier and marked sent. A crash between
   Stripe's answer and our commit resends the same identifier, which Stripe refuses as a
   duplicate: counted once.

Stripe bills a meter event by its `timestamp`, not by when it arrives: each row carries
`event_at`, a moment inside the period the usage belongs to (now, or the period's last second
once it is over), so a report sent late still lands on that period's invoice. At renewal
Stripe drafts the invoice and finalizes it an hour later (its grace period): on that
invoice's `invoice.created` the old period is flushed (`flush_period`), reported with
timestamps inside it before the invoice takes its usage. Usage collected after that is
attributed to the new period's days only (a period covers whole UTC days, billing.usage).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from railsaas.billing import gateway, holds, usage
from railsaas.models import Plan, Tenant, UsageMeterReport


def identifier(tenant_id: uuid.UUID, period_day, total_cents: int) -> str:
    return f"overage:{tenant_id}:{period_day.isoformat()}:{total_cents}"


def plan_reports(session: Session, now: datetime) -> list[uuid.UUID]:
    """Write a report row for every workspace with unreported overage; their ids."""

    markup = current_app.config["USAGE_MARKUP_PERCENT"]
    spend = usage.spend_by_tenant(session, now, markup)
    if not spend:
        return []
    billable = session.execute(
        select(Tenant.id, Plan.included_usage_cents)
        .join(Plan, Plan.id == Tenant.plan_id)
        .where(Tenant.id.in_(list(spend)), Tenant.stripe_customer_id.isnot(None))
    ).all()
    created = []
    for tenant_id, included in billable:
        total, period = spend[tenant_id]
        if not period.from_subscription or total <= included:
            continue
        row_id = _plan_one(session, tenant_id, total - included, period, now)
        if row_id is not None:
            created.append(row_id)
    return created


def event_time(period: usage.Period, now: datetime) -> datetime:
    """A timestamp inside the period: now while it runs, its last second once over."""
    return max(period.start, min(now, period.end - timedelta(seconds=1)))


def _plan_one(
    session: Session, tenant_id: uuid.UUID, overage: int, period: usage.Period, now: datetime
) -> uuid.UUID | None:
    tenant = holds.lock_tenant(session, tenant_id)
    reported = session.scalar(
        select(func.coalesce(func.sum(UsageMeterReport.value_cents), 0)).where(
            UsageMeterReport.tenant_id == tenant_id,
            UsageMeterReport.period_start == period.start_day,
        )
    )
    delta = overage - int(reported)
    if delta <= 0:
        return None
    return session.execute(
        insert(UsageMeterReport)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            period_start=period.start_day,
            identifier=identifier(tenant_id, period.start_day, overage),
            value_cents=delta,
            stripe_customer_id=tenant.stripe_customer_id,
            event_at=event_time(period, now),
        )
        .on_conflict_do_nothing(index_elements=["identifier"])
        .returning(UsageMeterReport.id)
    ).scalar()


def flush_period(
    session: Session, tenant_id: uuid.UUID, start: datetime, end: datetime, now: datetime
) -> uuid.UUID | None:
    """The overage of a period that just ended (its renewal invoice is a draft), not yet
    reported: a report row stamped inside that period, or None."""
    tenant = holds.lock_tenant(session, tenant_id)
    plan = tenant.plan if tenant is not None else None
    if plan is None or not tenant.stripe_customer_id:
        return None
    period = usage.Period(start, end, True)
    spent = usage.tenant_usage(
        session,
        tenant_id,
        period,
        markup_percent=current_app.config["USAGE_MARKUP_PERCENT"],
        included_cents=plan.included_usage_cents,
    )
    if spent.overage_cents <= 0:
        return None
    return _plan_one(session, tenant_id, spent.overage_cents, period, now)


def pending(session: Session) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(UsageMeterReport.id)
            .where(UsageMeterReport.sent_at.is_(None))
            .order_by(UsageMeterReport.created_at)
        )
    )


def send(session: Session, report_id: uuid.UUID) -> str:
    """Send one report unless sent (or being sent by another worker)."""
    row = session.scalars(
        select(UsageMeterReport)
        .where(UsageMeterReport.id == report_id)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None or row.sent_at is not None:
        return "skipped"
    fresh = gateway.report_meter_event(
        customer_id=row.stripe_customer_id,
        value_cents=row.value_cents,
        identifier=row.identifier,
        timestamp=row.event_at or gateway.now(),
    )
    row.sent_at = datetime.now(UTC)
    return "sent" if fresh else "duplicate"
