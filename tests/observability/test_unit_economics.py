"""CAC per month and channel, ARPU, gross margin, LTV, LTV:CAC and payback from known
subscriptions, usage and acquisition spend (fixed clock); the page that shows them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from railsaas.billing import usage
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AcquisitionSpend, Subscription, UsageMetric
from railsaas.reporting import business as mb
from tests.support import login_as

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def add(*objs) -> None:
    with db.scope(SYSTEM) as s:
        s.add_all(objs)
        s.flush()
        usage.rollup(s)


def spent(month: int, channel: str, cents: int) -> AcquisitionSpend:
    return AcquisitionSpend(month=date(2026, month, 1), channel=channel, amount_cents=cents)


@pytest.fixture
def book(factory, app_ctx):
    """Four workspaces from three channels, $10/month each, and what each channel cost."""
    basic = factory.plan(name="Basic", price_cents=1000, included_usage_cents=0)
    t1 = factory.tenant(name="T1", utm_source="google")
    t2 = factory.tenant(name="T2", utm_source="google")
    t3 = factory.tenant(name="T3", utm_source="newsletter")
    t4 = factory.tenant(name="T4")  # no source: "(none)"

    def sub(t, status, created, **kw):
        return Subscription(
            tenant_id=t.id,
            plan_id=basic.id,
            plan_name="Basic",
            status=status,
            created_at=created,
            **kw,
        )

    i1 = factory.instance(t1, created_at=at(3, 5))
    add(
        sub(t1, "active", at(3, 5)),  # new in March
        sub(t2, "active", at(4, 10)),  # new in April
        sub(t3, "canceled", at(4, 2), canceled_at=at(5, 20)),  # April, churned in May
        sub(t4, "active", at(4, 20), trial_end=at(5, 4)),  # new when it converted
        # $4 of Railway cost in April (a fifth of a vCPU-month), billed at +30%: $5.20.
        UsageMetric(
            tenant_id=t1.id,
            instance_id=i1.id,
            metric_type="CPU_USAGE",
            value=Decimal(8640),
            unit="vCPU-minutes",
            recorded_at=at(4, 10),
        ),
        spent(3, "google", 50000),
        spent(4, "google", 30000),
        spent(4, "google", 10000),  # two entries add up
        spent(4, "newsletter", 20000),
        spent(5, "twitter", 5000),  # spend that won nobody
        AcquisitionSpend(month=date(2025, 12, 1), channel="google", amount_cents=777),
        spent(7, "google", 888),
    )  # outside the six months to June


def figures():
    with db.scope(SYSTEM) as s:
        months = mb.monthly(s, 6, NOW)
        margins = mb.margin_series(s, 6, NOW)
        channels = mb.acquisition(s, 6, NOW)
    return channels, mb.unit_economics(months, margins, channels)


def test_cac_per_month_and_channel_is_spend_over_new_paying_workspaces(book):
    channels, _ = figures()
    got = {(c.month.month, c.channel): (c.spend_cents, c.new_paying) for c in channels}
    assert got == {
        (3, "google"): (50000, 1),
        (4, "google"): (40000, 1),
        (4, "newsletter"): (20000, 1),
        (5, "twitter"): (5000, 0),
        (5, mb.UNATTRIBUTED): (0, 1),
    }
    by = {(c.month.month, c.channel): c for c in channels}
    assert by[(4, "google")].cac_cents == 40000
    assert by[(5, "twitter")].cac_cents is None  # nobody won: no CAC, not infinity


def test_monthly_unit_economics(book):
    _, units = figures()
    u = {r.months[0].month: r for r in units}
    march, april, may = u[3], u[4], u[5]
    assert (march.spend_cents, march.new_paying, march.cac_cents) == (50000, 1, 50000)
    assert (april.cac_cents, april.arpu_cents) == (30000, 1000)
    # April: fees T1 T2 T3 ($30) + T1's usage billed ($5.20) against $4 of Railway cost.
    assert (april.revenue_cents, april.cost_cents) == (3520, 400)
    assert april.gross_margin == pytest.approx(3120 / 3520)
    assert april.churn == 0
    assert april.ltv_cents is None  # nobody left yet: LTV unknown
    assert april.payback_months == pytest.approx(30000 / (1000 * 3120 / 3520))
    # May: T3 of the three paying on May 1 left; T4 converted from its trial.
    assert (may.customers, may.churned, may.new_paying) == (3, 1, 1)
    assert may.gross_margin == 1
    assert may.ltv_cents == pytest.approx(3000)  # $10 x 100% / (1/3)
    assert may.cac_cents == 5000
    assert may.ltv_to_cac == pytest.approx(0.6)
    assert may.payback_months == pytest.approx(5)
    assert u[1].cac_cents is None  # an empty month
    assert u[1].arpu_cents is None


def test_the_headline_sums_the_last_three_complete_months(book):
    _, units = figures()
    t = mb.trailing(units)
    assert [d.month for d in t.months] == [3, 4, 5]  # June is still running
    assert t.cac_cents == 115000 / 4
    assert t.arpu_cents == 7000 / 7
    assert t.gross_margin == pytest.approx(8120 / 8520)
    assert t.churn == 0.25
    margin = 1000 * 8120 / 8520
    assert t.ltv_cents == pytest.approx(margin / 0.25)
    assert t.ltv_to_cac == pytest.approx(margin / 0.25 / 28750)
    assert t.payback_months == pytest.approx(28750 / margin)


def test_the_metrics_page_shows_unit_economics_formulas_and_channels(app, client, factory, app_ctx):
    this_month = datetime.now(UTC).date().replace(day=1)
    add(AcquisitionSpend(month=this_month, channel="newsletter", amount_cents=12345))
    admin, _ = factory.workspace(role="owner")
    with db.scope(SYSTEM) as s:
        s.get(type(admin), admin.id).role = "admin"
    login_as(app, client, admin)
    resp = client.get("/admin/metrics")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html[:2000]
    for testid in (
        "cac",
        "ltv",
        "ltv-cac",
        "payback",
        "gross-margin",
        "arpu",
        "formulas",
        "chart-cac",
        "chart-ltv-cac",
        "chart-channels",
        "unit-months",
        "cac-channels",
    ):
        assert f'data-testid="{testid}"' in html, testid
    assert "ARPU × gross margin ÷ monthly churn" in html
    assert "<td>newsletter</td><td>$123.45</td>" in html
    assert "/admin/acquisition" in html
