"""Business metrics from known subscriptions, users, instances and usage (fixed clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from railsaas.billing import usage
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Deployment, Subscription, UsageMetric
from railsaas.reporting import business as mb

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def add(*objs) -> None:
    with db.scope(SYSTEM) as s:
        s.add_all(objs)
        s.flush()
        usage.rollup(s)  # margins read billing's roll-up


@pytest.fixture
def book(factory, app_ctx):
    """Nine workspaces with the subscription histories described in each line."""
    basic = factory.plan(name="Basic", price_cents=1000, included_usage_cents=0)
    pro = factory.plan(name="Pro yearly", price_cents=36000, interval="year")
    free = factory.plan(name="Free", price_cents=0)
    t = {n: factory.tenant(name=f"T{n}") for n in range(1, 10)}

    def sub(n, plan, status, created, **kw):
        return Subscription(
            tenant_id=t[n].id,
            plan_id=plan.id,
            plan_name=plan.name,
            status=status,
            created_at=created,
            **kw,
        )

    add(
        sub(1, basic, "active", at(1, 10)),  # paying since Jan 10
        sub(2, pro, "active", at(3, 5)),  # $30/month since Mar 5
        sub(3, basic, "trialing", at(6, 10), trial_end=at(6, 24)),  # still in trial
        sub(4, basic, "canceled", at(2, 1), canceled_at=at(5, 20)),  # churned in May
        sub(5, basic, "past_due", at(4, 1)),  # still counts
        sub(6, free, "active", at(1, 1)),  # free: never revenue
        sub(7, basic, "active", at(4, 20), trial_end=at(5, 4)),  # converted after trial
        sub(
            8, basic, "canceled", at(5, 1), trial_end=at(5, 15), canceled_at=at(5, 10)
        ),  # left during the trial
        sub(
            9,
            basic,
            "canceled",
            at(3, 1),
            cancel_at_period_end=True,
            canceled_at=at(5, 25),
            current_period_end=datetime(2026, 6, 1, tzinfo=UTC),
        ),
    )
    return {"basic": basic, "pro": pro, "tenants": t}


def test_mrr_counts_paying_subscriptions_only_and_yearly_plans_by_the_month(book):
    with db.scope(SYSTEM) as s:
        assert mb.mrr(s, NOW) == 1000 + 3000 + 1000 + 1000  # T1, T2, T5, T7
        assert mb.summary(s, NOW).arr_cents == 6000 * 12


def test_mrr_over_time_follows_starts_trials_and_cancellations(book):
    with db.scope(SYSTEM) as s:
        series = mb.mrr_series(s, months=6, now=NOW)
    assert [p.month for p in series] == [date(2026, m, 1) for m in range(1, 7)]
    assert [p.value for p in series] == [1000, 2000, 6000, 7000, 6000, 6000]


def test_monthly_churn_is_the_share_of_paying_workspaces_lost_in_the_month(book):
    with db.scope(SYSTEM) as s:
        churn = {c.month.month: c for c in mb.churn_series(s, months=6, now=NOW)}
    assert (churn[4].customers, churn[4].churned) == (4, 0)
    # At May 1: T1 T2 T4 T5 T9 paid (T7 in trial); T4 cancelled, T9 ended at period end.
    assert (churn[5].customers, churn[5].churned) == (5, 2)
    assert churn[5].rate == pytest.approx(0.4)
    assert (churn[6].customers, churn[6].churned) == (4, 0)
    assert churn[1].rate is None  # nobody paid on Jan 1


def test_trial_conversion_counts_trials_by_the_month_they_ended(book):
    with db.scope(SYSTEM) as s:
        trials = {m.month.month: m for m in mb.trial_conversion_series(s, 6, NOW)}
    assert (trials[5].ended, trials[5].converted) == (2, 1)  # T7 converted, T8 left
    assert trials[6].ended == 0  # T3's trial ends after now


def test_subscriptions_by_plan_splits_statuses(book):
    with db.scope(SYSTEM) as s:
        rows = {r.plan: r for r in mb.subscriptions_by_plan(s)}
    assert (rows["Basic"].active, rows["Basic"].trialing, rows["Basic"].past_due) == (2, 1, 1)
    assert rows["Basic"].mrr_cents == 3000
    assert rows["Pro yearly"].mrr_cents == 3000
    assert rows["Free"].mrr_cents == 0


def test_signups_are_counted_per_month(factory, app_ctx):
    for month in (4, 5, 5, 6):
        factory.user(created_at=at(month, 3))
    factory.user(created_at=at(6, 20))  # after now: not yet
    with db.scope(SYSTEM) as s:
        counts = {m.month.month: m.value for m in mb.signups_series(s, 3, NOW)}
    assert counts == {4: 1, 5: 2, 6: 1}


def test_template_popularity_counts_recent_deploys_and_active_instances(factory, app_ctx):
    tenant = factory.tenant()
    ghost, n8n = factory.template(name="Ghost"), factory.template(name="n8n")
    a = factory.instance(tenant, ghost, status="running")
    factory.instance(tenant, ghost, status="stopped")
    b = factory.instance(tenant, n8n, status="deploying")
    add(
        Deployment(
            tenant_id=tenant.id,
            instance_id=a.id,
            kind="deploy",
            status="success",
            created_at=at(6, 1),
        ),
        Deployment(
            tenant_id=tenant.id,
            instance_id=a.id,
            kind="redeploy",
            status="success",
            created_at=at(6, 2),
        ),
        Deployment(
            tenant_id=tenant.id,
            instance_id=b.id,
            kind="deploy",
            status="building",
            created_at=at(6, 14),
        ),
        Deployment(
            tenant_id=tenant.id,
            instance_id=b.id,
            kind="deploy",
            status="failed",
            created_at=at(3, 1),
        ),
    )  # outside the 30-day window
    with db.scope(SYSTEM) as s:
        rows = {r.template: r for r in mb.template_popularity(s, 30, NOW)}
    assert (rows["Ghost"].deploys, rows["Ghost"].active, rows["Ghost"].total) == (1, 1, 2)
    assert (rows["n8n"].deploys, rows["n8n"].active, rows["n8n"].total) == (1, 1, 1)


def test_gross_margin_per_workspace_and_per_template(book, factory):
    t, basic, pro = book["tenants"], book["basic"], book["pro"]
    for n, plan in ((1, basic), (2, pro)):
        with db.scope(SYSTEM) as s:
            s.get(type(t[n]), t[n].id).plan_id = plan.id
    ghost, umami = factory.template(name="Ghost"), factory.template(name="Umami")
    i1 = factory.instance(t[1], ghost, created_at=at(5, 1))
    factory.instance(t[2], ghost, created_at=at(5, 1))
    i3 = factory.instance(t[2], umami, created_at=at(5, 1))
    add(  # a vCPU-month ($20) for i1, a GB-month of memory ($10) for i3, in June
        UsageMetric(
            tenant_id=t[1].id,
            instance_id=i1.id,
            metric_type="CPU_USAGE",
            value=Decimal(43200),
            unit="vCPU-minutes",
            recorded_at=at(6, 10),
        ),
        UsageMetric(
            tenant_id=t[2].id,
            instance_id=i3.id,
            metric_type="MEMORY_USAGE_GB",
            value=Decimal(43200),
            unit="GB-minutes",
            recorded_at=at(6, 11),
        ),
        UsageMetric(
            tenant_id=t[2].id,
            instance_id=i3.id,
            metric_type="MEMORY_LIMIT_GB",
            value=Decimal(99999),
            unit="GB",
            recorded_at=at(6, 11),
        ),  # free
        UsageMetric(
            tenant_id=t[1].id,
            instance_id=i1.id,
            metric_type="CPU_USAGE",
            value=Decimal(43200),
            unit="vCPU-minutes",
            recorded_at=at(5, 10),
        ),
    )
    with db.scope(SYSTEM) as s:
        ws = {m.label: m for m in mb.margin_by_workspace(s, NOW)}
        tpl = {m.label: m for m in mb.margin_by_template(s, NOW)}
        series = mb.margin_series(s, 2, NOW)
    # T1: $10 fee + $20 cost marked up 30% = $36 revenue against $20 cost.
    assert (ws["T1"].revenue_cents, ws["T1"].cost_cents) == (3600, 2000)
    assert ws["T1"].margin_cents == 1600
    # T2: $30 fee (yearly plan) + $13 usage = $43 against $10.
    assert (ws["T2"].revenue_cents, ws["T2"].cost_cents) == (4300, 1000)
    assert (ws["T5"].revenue_cents, ws["T5"].cost_cents) == (1000, 0)
    assert "T9" not in ws  # ended on June 1
    # Ghost: i1 ($10 fee + $26 usage) and half of T2's fee ($15); Umami: $15 + $13.
    assert (tpl["Ghost"].revenue_cents, tpl["Ghost"].cost_cents) == (5100, 2000)
    assert (tpl["Umami"].revenue_cents, tpl["Umami"].cost_cents) == (2800, 1000)
    # May: fees T1 T2 T4 T5 T7 T9 ($10+$30+$10+$10+$10+$10) + T1's usage $26; cost $20.
    may, june = series
    assert (may.revenue_cents, may.cost_cents) == (8000 + 2600, 2000)
    assert june.cost_cents == 3000
