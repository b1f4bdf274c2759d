"""The customer dashboard's figures for one workspace, in a fixed handful of queries whatever
the number of instances: instance and deploy counts, spend this period against the cap, the
daily spend by instance, and recent activity.

`cached_overview` keeps the counts, the period, the daily spend and its drawn chart in the
cache Redis, per workspace, keyed by the workspace's and the usage roll-up's version tokens
(railsaas.versions: a change to the workspace's instances, deployments or subscription, or a
roll-up that folded new usage in, makes a new key) and the UTC date (the month's deploy count
and the calendar period turn over). The cap and the forecast are worked out fresh each time.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import redis
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from railsaas import charts, versions
from railsaas.billing import costs, spend_caps, usage
from railsaas.billing import forecast as spend_forecast
from railsaas.extensions import cache_redis
from railsaas.models import Deployment, Instance, Tenant
from railsaas.observability import metrics
from railsaas.permissions import authorize
from railsaas.platform import audit

DEPLOY_KINDS = ("deploy", "redeploy")
CACHE_TTL_SECONDS = 3600


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
    counts = _counts(session, tenant.id, month.start)
    period = usage.current_period(session, tenant.id, now)
    spend = costs.daily_spend_by_instance(session, tenant.id, period, markup_percent)
    return _assemble(counts, period, spend, tenant, now)


def _assemble(
    counts: Sequence[int],
    period: usage.Period,
    spend: costs.DailyCosts,
    tenant: Tenant,
    now: datetime,
) -> Overview:
    """The figures with the cap and the forecast, which are always worked out fresh (the cap
    can change without touching usage, and the forecast moves with the clock)."""
    running, live, deploys = counts
    cap = spend_caps.cap_cents(tenant)
    forecast = spend_forecast.forecast(
        spend_cents=spend.total_cents, period=period, now=now, cap_cents=cap
    )
    return Overview(running, live, deploys, period, spend, cap, forecast)


def usage_chart(overview: Overview) -> Markup:
    spend = overview.usage
    return charts.bars(
        [d.strftime("%d") for d in spend.days],
        [charts.Series(name, values) for name, values in sorted(spend.by_instance.items())],
        title="Daily spend by instance this period",
        fmt=charts.money,
        stacked=True,
    )


def cached_overview(
    session: Session, tenant: Tenant, markup_percent: int, now: datetime | None = None
) -> tuple[Overview, Markup]:
    """overview() and its chart, from the cache when the workspace and the usage roll-up
    have not changed since (see the module's docstring); the database when Redis is down."""
    now = now or datetime.now(UTC)
    tokens = versions.read(versions.workspace_key(tenant.id), versions.USAGE)
    key = f"dashboard:v1:{tenant.id}:{markup_percent}:{now.astimezone(UTC).date()}:" + ":".join(
        tokens or ()
    )
    cached = None
    if tokens is not None:
        with contextlib.suppress(redis.RedisError):
            cached = cache_redis().get(key)
        metrics.cache_lookup("dashboard", hit=bool(cached))
    if cached:
        doc = json.loads(cached)
        return _from_cache(doc, tenant, now), Markup(doc["chart"])  # noqa: S704 (our SVG)
    result = overview(session, tenant, markup_percent, now)
    chart = usage_chart(result)
    if tokens is not None:
        with contextlib.suppress(redis.RedisError):
            cache_redis().set(key, _to_cache(result, chart), ex=CACHE_TTL_SECONDS)
    return result, chart


def _to_cache(o: Overview, chart: Markup) -> str:
    return json.dumps(
        {
            "counts": [o.running, o.live, o.deploys_this_month],
            "period": [o.period.start.isoformat(), o.period.end.isoformat()],
            "from_subscription": o.period.from_subscription,
            "days": [d.isoformat() for d in o.usage.days],
            "by_instance": o.usage.by_instance,
            "total_cents": o.usage.total_cents,
            "chart": str(chart),
        }
    )


def _from_cache(doc: dict, tenant: Tenant, now: datetime) -> Overview:
    period = usage.Period(
        datetime.fromisoformat(doc["period"][0]),
        datetime.fromisoformat(doc["period"][1]),
        doc["from_subscription"],
    )
    spend = costs.DailyCosts(
        [date.fromisoformat(d) for d in doc["days"]], doc["by_instance"], doc["total_cents"]
    )
    return _assemble(doc["counts"], period, spend, tenant, now)


def activity(
    session: Session, workspace, *, before_id: int | None = None, limit: int = 10
) -> list[audit.Entry]:
    """The workspace's activity log, newest first (activity.view, checked here)."""
    authorize(workspace, "activity.view")
    return audit.entries(
        session, audit.Filters(tenant_id=workspace.id), before_id=before_id, limit=limit
    )
