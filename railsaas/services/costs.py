"""What Railway charges us for each instance, and what that means for the customer's spend.

The one place the customer dashboard and the admin's margin figures read cost from, so that
when billing's usage roll-up lands, only this module changes.

Raw usage (`usage_metrics`) holds Railway's measurements as collected: each row the amount
used in the interval ending at `recorded_at`, in the units of Railway's `usage` API:
CPU_USAGE in vCPU-minutes, MEMORY_USAGE_GB / DISK_USAGE_GB / BACKUP_USAGE_GB in
GB-minutes, NETWORK_TX_GB in GB. Railway prices them (per its CLI) at $20 per vCPU-month,
$10 per GB-month of memory, $0.15 per GB-month of disk and backups and $0.05 per GB of
egress, a month being 43,200 minutes. Other measurements (limits, ingress) cost nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Numeric, Select, String, column, func, select, values
from sqlalchemy.orm import Session

from railsaas.models import Instance, Subscription, Tenant, UsageMetric

MINUTES_PER_MONTH = 43_200
RAILWAY_CENTS_PER_UNIT: dict[str, Decimal] = {
    "CPU_USAGE": Decimal(2000) / MINUTES_PER_MONTH,
    "MEMORY_USAGE_GB": Decimal(1000) / MINUTES_PER_MONTH,
    "DISK_USAGE_GB": Decimal(15) / MINUTES_PER_MONTH,
    "BACKUP_USAGE_GB": Decimal(15) / MINUTES_PER_MONTH,
    "NETWORK_TX_GB": Decimal(5),
}


# The price list as a row source for raw SQL (railsaas.services.metrics_business): bound
# arrays, so the SQL text never has numbers pasted into it.
PRICES_SQL = ("SELECT * FROM unnest(CAST(:price_types AS text[]), CAST(:price_cents AS numeric[]))"
              " AS railway_prices(metric_type, cents)")


def price_params() -> dict[str, list]:
    return {"price_types": list(RAILWAY_CENTS_PER_UNIT),
            "price_cents": [round(v, 10) for v in RAILWAY_CENTS_PER_UNIT.values()]}


def _prices():
    return values(column("metric_type", String), column("cents", Numeric),
                  name="railway_prices", literal_binds=True).data(
        [(k, round(v, 10)) for k, v in RAILWAY_CENTS_PER_UNIT.items()])


def daily_instance_costs(since: datetime, until: datetime,
                         tenant_id: uuid.UUID | None = None) -> Select:
    """(tenant_id, instance_id, day, cost_cents) for usage recorded in [since, until);
    cost_cents is numeric (fractions of a cent add up over a month)."""
    prices = _prices()
    day = func.date_trunc("day", func.timezone("UTC", UsageMetric.recorded_at))
    stmt = (select(UsageMetric.tenant_id, UsageMetric.instance_id, day.label("day"),
                   func.sum(UsageMetric.value * prices.c.cents).label("cost_cents"))
            .join(prices, prices.c.metric_type == UsageMetric.metric_type)
            .where(UsageMetric.recorded_at >= since, UsageMetric.recorded_at < until)
            .group_by(UsageMetric.tenant_id, UsageMetric.instance_id, day))
    if tenant_id is not None:
        stmt = stmt.where(UsageMetric.tenant_id == tenant_id)
    return stmt


def instance_costs(since: datetime, until: datetime,
                   tenant_id: uuid.UUID | None = None) -> Select:
    """(tenant_id, instance_id, cost_cents) over [since, until)."""
    daily = daily_instance_costs(since, until, tenant_id).subquery()
    return (select(daily.c.tenant_id, daily.c.instance_id,
                   func.sum(daily.c.cost_cents).label("cost_cents"))
            .group_by(daily.c.tenant_id, daily.c.instance_id))


# --- the customer's billing period and spend --------------------------------------------------

@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def days(self) -> list[date]:
        first = self.start.date()
        return [first + timedelta(days=i) for i in range((self.end.date() - first).days)]


def month_of(moment: datetime) -> Period:
    start = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return Period(start, end)


def current_period(subscription: Subscription | None, now: datetime | None = None) -> Period:
    """The subscription's current billing period, or the calendar month without one."""
    now = now or datetime.now(UTC)
    if subscription is not None and subscription.current_period_start \
            and subscription.current_period_end \
            and subscription.current_period_start <= now < subscription.current_period_end:
        return Period(subscription.current_period_start, subscription.current_period_end)
    return month_of(now)


def spend_cents(cost_cents: Decimal | float | int, markup_percent: int) -> int:
    """What the customer pays for usage that cost us `cost_cents` (before included usage)."""
    return int((Decimal(cost_cents) * (100 + markup_percent) / 100).quantize(Decimal(1)))


def spend_cap_cents(tenant: Tenant) -> int | None:
    if tenant.spend_cap_cents is not None:
        return tenant.spend_cap_cents
    return tenant.plan.spend_cap_default_cents if tenant.plan is not None else None


@dataclass(frozen=True)
class DailyCosts:
    days: list[date]
    # instance name -> spend per day (cents, marked up as the customer is billed)
    by_instance: dict[str, list[int]]
    total_cents: int


def daily_spend_by_instance(session: Session, tenant_id: uuid.UUID, period: Period,
                            markup_percent: int) -> DailyCosts:
    """The dashboard's usage chart: each instance's spend per day of the period, in one
    query (names joined in), whatever the number of instances."""
    daily = daily_instance_costs(period.start, period.end, tenant_id).subquery()
    rows = session.execute(
        select(Instance.name, daily.c.day, daily.c.cost_cents)
        .join(Instance, Instance.id == daily.c.instance_id)
        .order_by(Instance.name, daily.c.day)).all()
    days = period.days()
    index = {d: i for i, d in enumerate(days)}
    by_instance: dict[str, list[int]] = {}
    total = Decimal(0)
    for name, day, cost in rows:
        series = by_instance.setdefault(name, [0] * len(days))
        i = index.get(day.date() if isinstance(day, datetime) else day)
        if i is not None:
            series[i] += spend_cents(cost, markup_percent)
        total += cost
    return DailyCosts(days, by_instance, spend_cents(total, markup_percent))
