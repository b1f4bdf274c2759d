"""Where the period ends at the current rate, the warning when that crosses the spend cap,
and each template's real median monthly cost (from known usage roll-ups)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from railsaas.billing import forecast, overview, template_costs
from railsaas.billing.usage import Period
from railsaas.context import Workspace
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Template, Tenant, UsageRollup
from tests.support import login_as

START = datetime(2026, 11, 1, tzinfo=UTC)
PERIOD = Period(START, datetime(2026, 12, 1, tzinfo=UTC), True)  # 30 days


def test_forecast_is_usage_so_far_over_elapsed_times_the_period_plus_the_fee():
    # 10 of 30 days gone, $20 used: $60 usage by the end; $15 included, $19 plan fee.
    f = forecast.forecast(
        spend_cents=2000,
        period=PERIOD,
        now=START + timedelta(days=10),
        fee_cents=1900,
        included_cents=1500,
        cap_cents=10_000,
    )
    assert (f.usage_cents, f.total_cents) == (6000, 1900 + 4500)
    assert not f.crosses_cap
    # Half a day in: too early to extrapolate.
    assert forecast.forecast(spend_cents=50, period=PERIOD, now=START + timedelta(hours=12)) is None
    # After the period's end the rate is the whole period's.
    f = forecast.forecast(spend_cents=3000, period=PERIOD, now=PERIOD.end + timedelta(days=2))
    assert f.usage_cents == 3000


def test_the_cap_warning_is_for_a_forecast_over_the_cap_while_spend_is_under():
    now = START + timedelta(days=15)
    assert forecast.forecast(
        spend_cents=2600, period=PERIOD, now=now, cap_cents=5000
    ).crosses_cap  # $52 forecast, $50 cap
    assert not forecast.forecast(
        spend_cents=2400, period=PERIOD, now=now, cap_cents=5000
    ).crosses_cap  # $48
    assert not forecast.forecast(
        spend_cents=5000, period=PERIOD, now=now, cap_cents=5000
    ).crosses_cap  # capped already
    assert not forecast.forecast(spend_cents=9000, period=PERIOD, now=now).crosses_cap


def _usage(tenant_id, instance_id, day: date, cost_cents: float) -> UsageRollup:
    return UsageRollup(
        tenant_id=tenant_id,
        instance_id=instance_id,
        day=day,
        cpu_vcpu_minutes=0,
        memory_gb_minutes=0,
        disk_gb_minutes=0,
        backup_gb_minutes=0,
        egress_gb=0,
        cost_cents=Decimal(str(cost_cents)),
    )


def test_the_billing_page_forecasts_and_warns(app, app_ctx, factory):
    plan = factory.plan(price_cents=0, included_usage_cents=0, spend_cap_default_cents=5000)
    _, tenant = factory.workspace()
    inst = factory.instance(tenant)
    now = datetime.now(UTC)
    start = now - timedelta(days=10)
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
        # $20 of Railway cost (x1.3 markup = $26) over 10 of the month's days.
        s.add(
            _usage(
                tenant.id, inst.id, start.date() if start.month == now.month else now.date(), 2000
            )
        )
    with db.scope(SYSTEM) as s:
        ws = Workspace(s.get(Tenant, tenant.id), "owner")
        data = overview.summary(s, ws, now=now, markup_percent=30, user_id=None)
    period = data["usage"].period
    elapsed = now - period.start
    f = data["forecast"]
    if elapsed < forecast.MIN_ELAPSED:
        assert f is None
        return
    expected = round(2600 * ((period.end - period.start) / elapsed))
    assert f.usage_cents == expected
    assert f.crosses_cap == (expected >= 5000)


def test_the_billing_page_shows_the_forecast_and_the_warning(app, client, factory):
    plan = factory.plan(price_cents=0, included_usage_cents=0, spend_cap_default_cents=100)
    user, tenant = factory.workspace()
    inst = factory.instance(tenant)
    now = datetime.now(UTC)
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
        s.add(_usage(tenant.id, inst.id, now.date(), 10))  # $0.13 so far, cap $1
    login_as(app, client, user)
    html = client.get("/billing/usage").get_data(as_text=True)
    assert 'data-testid="forecast"' in html
    if (
        now - now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) >= forecast.MIN_ELAPSED
        and now.day <= 20
    ):
        # At least a day in and 13 cents a day or so: the month passes $1.
        assert 'data-testid="forecast-cap-warning"' in html


def test_median_monthly_cost_per_template_needs_the_minimum_of_instances(app_ctx, factory):
    popular, rare = factory.template(), factory.template()
    _, tenant = factory.workspace()
    today = date(2026, 12, 10)
    with db.scope(SYSTEM) as s:
        # Five instances of `popular` costing $1, $2, $3, $4, $50 a day on the days they ran
        # (one ran 3 days, the rest 10); the median is $3 a day = $90 a month (+30%: $117).
        for daily, days in ((100, 10), (200, 3), (300, 10), (400, 10), (5000, 10)):
            inst = factory.instance(tenant, popular)
            for d in range(days):
                s.add(_usage(tenant.id, inst.id, today - timedelta(days=d + 1), daily))
            # Usage older than 30 days and today's (incomplete) do not count.
            s.add(_usage(tenant.id, inst.id, today - timedelta(days=40), 99_999))
            s.add(_usage(tenant.id, inst.id, today, 99_999))
        for _ in range(4):
            inst = factory.instance(tenant, rare)
            s.add(_usage(tenant.id, inst.id, today - timedelta(days=1), 100))

    with db.scope(SYSTEM) as s:
        found = template_costs.medians(s, today, markup_percent=30)
        assert found[popular.id] == (11700, 5)
        assert found[rare.id] == (3900, 4)
        assert template_costs.refresh(s, today, markup_percent=30, min_instances=5) == 1
    with db.scope(SYSTEM) as s:
        rows = {
            t.id: (t.median_monthly_cents, t.median_instances)
            for t in s.scalars(select(Template).where(Template.id.in_([popular.id, rare.id])))
        }
    assert rows == {popular.id: (11700, 5), rare.id: (None, None)}
    with db.scope(SYSTEM) as s:
        assert template_costs.refresh(s, today, markup_percent=30, min_instances=4) == 2
        assert template_costs.refresh(s, today, markup_percent=30, min_instances=6) == 0
    with db.scope(SYSTEM) as s:
        assert s.get(Template, popular.id).median_monthly_cents is None


def test_the_catalog_card_shows_the_median_beside_the_estimate(app, client, factory, redis_conn):
    t = factory.template(name="Measured", monthly_estimate_cents=700)
    with db.scope(SYSTEM) as s:
        s.get(Template, t.id).median_monthly_cents = 1234
        s.get(Template, t.id).median_instances = 7
    redis_conn.forget_catalog()
    html = client.get("/templates/").get_data(as_text=True)
    assert "~$7.00/month" in html
    assert "Real median on RailSaaS: $12.34/month (7 instances)" in html
    redis_conn.forget_catalog()
