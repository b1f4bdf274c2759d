"""Usage beyond the plan's included amount goes to Stripe as billing meter events (1 unit =
1 cent on the subscription's metered price).

Two steps, so that nothing is billed twice or lost:
1. `plan_reports`: for each subscribed workspace, under its row lock, the overage not yet
   reported this period becomes a `usage_meter_reports` row whose identifier is derived from
   our ids and the running total (`overage:<tenant>:<period day>:<total>`). Committed.
2. `send`: each unsent row is sent with that identifier and marked sent. A crash between
   Stripe's answer and our commit resends the same identifier, which Stripe refuses as a
   duplicate: counted once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

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
        .where(Tenant.id.in_(list(spend)), Tenant.stripe_customer_id.isnot(None))).all()
    created = []
    for tenant_id, included in billable:
        total, period = spend[tenant_id]
        if not period.from_subscription or total <= included:
            continue
        tenant = holds.lock_tenant(session, tenant_id)
        overage = total - included
        reported = session.scalar(select(func.coalesce(func.sum(UsageMeterReport.value_cents), 0))
                                  .where(UsageMeterReport.tenant_id == tenant_id,
                                         UsageMeterReport.period_start == period.start_day))
        delta = overage - int(reported)
        if delta <= 0:
            continue
        row_id = session.execute(insert(UsageMeterReport).values(
            id=uuid.uuid4(), tenant_id=tenant_id, period_start=period.start_day,
            identifier=identifier(tenant_id, period.start_day, overage), value_cents=delta,
            stripe_customer_id=tenant.stripe_customer_id,
        ).on_conflict_do_nothing(index_elements=["identifier"])
            .returning(UsageMeterReport.id)).scalar()
        if row_id is not None:
            created.append(row_id)
    return created


def pending(session: Session) -> list[uuid.UUID]:
    return list(session.scalars(select(UsageMeterReport.id)
                                .where(UsageMeterReport.sent_at.is_(None))
                                .order_by(UsageMeterReport.created_at)))


def send(session: Session, report_id: uuid.UUID) -> str:
    """Send one report unless sent (or being sent by another worker)."""
    row = session.scalars(select(UsageMeterReport).where(UsageMeterReport.id == report_id)
                          .with_for_update(skip_locked=True)).first()
    if row is None or row.sent_at is not None:
        return "skipped"
    fresh = gateway.report_meter_event(customer_id=row.stripe_customer_id,
                                       value_cents=row.value_cents,
                                       identifier=row.identifier, timestamp=gateway.now())
    row.sent_at = datetime.now(UTC)
    return "sent" if fresh else "duplicate"
