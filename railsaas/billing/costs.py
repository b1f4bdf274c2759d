"""Spend per instance and day, for charts and admin tables: read from billing's usage
roll-up (railsaas.billing.usage), priced with the same rule the billing page uses, so the
dashboard, the admin and the invoice never disagree.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from railsaas.billing.usage import Period, price_cents
from railsaas.models import Instance, UsageRollup


def daily_instance_costs(
    start_day: date, end_day: date, tenant_id: uuid.UUID | None = None
) -> Select:
    """(tenant_id, instance_id, day, cost_cents) for UTC days in [start_day, end_day);
    cost_cents is Railway's cost, numeric (fractions of a cent add up over a month)."""
    stmt = select(
        UsageRollup.tenant_id, UsageRollup.instance_id, UsageRollup.day, UsageRollup.cost_cents
    ).where(UsageRollup.day >= start_day, UsageRollup.day < end_day)
    if tenant_id is not None:
        stmt = stmt.where(UsageRollup.tenant_id == tenant_id)
    return stmt


def tenant_costs(start_day: date, end_day: date) -> Select:
    """(tenant_id, cost_cents) per workspace over UTC days in [start_day, end_day)."""
    return (
        select(UsageRollup.tenant_id, func.sum(UsageRollup.cost_cents).label("cost_cents"))
        .where(UsageRollup.day >= start_day, UsageRollup.day < end_day)
        .group_by(UsageRollup.tenant_id)
    )


@dataclass(frozen=True)
class DailyCosts:
    days: list[date]
    # instance name -> spend per day (cents, marked up as the customer is billed)
    by_instance: dict[str, list[int]]
    total_cents: int


def daily_spend_by_instance(
    session: Session, tenant_id: uuid.UUID, period: Period, markup_percent: int
) -> DailyCosts:
    """The usage chart: each instance's spend per day of the period, in one query (names
    joined in), whatever the number of instances. The total is priced like the bill: the
    period's whole cost marked up and rounded up once."""
    daily = daily_instance_costs(period.start_day, period.end_day, tenant_id).subquery()
    rows = session.execute(
        select(Instance.name, daily.c.day, daily.c.cost_cents)
        .join(Instance, Instance.id == daily.c.instance_id)
        .order_by(Instance.name, daily.c.day)
    ).all()
    days = period.days()
    index = {d: i for i, d in enumerate(days)}
    by_instance: dict[str, list[int]] = {}
    total = Decimal(0)
    for name, day, cost in rows:
        series = by_instance.setdefault(name, [0] * len(days))
        if (i := index.get(day)) is not None:
            series[i] += price_cents(cost, markup_percent)
        total += cost
    return DailyCosts(days, by_instance, price_cents(total, markup_percent))
