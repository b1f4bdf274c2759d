"""The customer dashboard's figures for one workspace, in a fixed handful of queries whatever
the number of instances: instance and deploy counts, spend this period against the cap, the
daily spend by instance, and recent activity."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from railsaas.billing import costs, spend_caps, usage
from railsaas.billing import forecast as spend_forecast
from railsaas.models import Deployment, Instance, Tenant
from railsaas.permissions import authorize
from railsaas.platform import audit

DEPLOY_KINDS = ("deploy", "redeploy")


@dataclass(frozen=True)
class Overview:
    running: int
    live: int  # not deleted
    deploys_this_month: int
    period: usage.Period
    usage: costs.DailyCosts
    cap_cents: int | None
    forecast: spend_forecast.Forecast | None = None  # usage at this rate by the period's end

    @property
    def spend_cents(self) -> int:
        return self.usage.total_cents

    @property
    def cap_ratio(self) -> float | None:
        return self.spend_cents / self.cap_cents if self.cap_cents else None


def _counts(session: Session, tenant_id: uuid.UUID, month_start: datetime) -> tuple[int, ...]:
    running = (
        select(func.count())
        .select_from(Instance)
        .where(Instance.tenant_id == tenant_id, Instance.status == "running")
        .scalar_subquery()
    )
    live = (
        select(func.count())
        .select_from(Instance)
        .where(Instance.tenant_id == tenant_id, Instance.status != "deleted")
        .scalar_subquery()
    )
    deploys = (
        select(func.count())
        .select_from(Deployment)
        .where(
            Deployment.tenant_id == tenant_id,
            Deployment.kind.in_(DEPLOY_KINDS),
            Deployment.created_at >= month_start,
        )
        .scalar_subquery()
    )
    return tuple(session.execute(select(running, live, deploys)).one())


def overview(
    session: Session, tenant: Tenant, markup_percent: int, now: datetime | None = None
) -> Overview:
    now = now or datetime.now(UTC)
    month = usage.month_of(now)
    running, live, deploys = _counts(session, tenant.id, month.start)
    period = usage.current_period(session, tenant.id, now)
    spend = costs.daily_spend_by_instance(session, tenant.id, period, markup_percent)
    cap = spend_caps.cap_cents(tenant)
    return Overview(
        running,
        live,
        deploys,
        period,
        spend,
        cap,
        spend_forecast.forecast(
            spend_cents=spend.total_cents, period=period, now=now, cap_cents=cap
        ),
    )


def activity(
    session: Session, workspace, *, before_id: int | None = None, limit: int = 10
) -> list[audit.Entry]:
    """The workspace's activity log, newest first (activity.view, checked here)."""
    authorize(workspace, "activity.view")
    return audit.entries(
        session, audit.Filters(tenant_id=workspace.id), before_id=before_id, limit=limit
    )
