"""Usage beyond the plan goes to Stripe as billing meter events, each counted once, and ends
up on the renewal invoice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from railsaas.billing import gateway, overage
from railsaas.models import Tenant, UsageMeterReport, UsageMetric
from tests.support import login_as, wait_until
from tests.support.billing import CARD, PAYS, checkout_url, in_system, rows


def test_overage_is_reported_once_and_billed_at_renewal(
    app, committed_factory, committed_plans, webhooks_to_app, celery_worker, sc
):
    user, tenant = committed_factory.workspace()
    client = app.test_client()
    login_as(app, client, user)
    httpx.post(
        checkout_url(app, client, committed_plans["starter"]), data={"card_number": PAYS, **CARD}
    )
    wait_until(
        lambda: in_system(app, lambda s: s.get(Tenant, tenant.id).plan_id),
        message="the subscription",
    )
    inst = committed_factory.instance(tenant)
    # $15 of egress at Railway: $19.50 with the markup, $14.50 beyond the $5 included.
    in_system(
        app,
        lambda s: s.add(
            UsageMetric(
                tenant_id=tenant.id,
                instance_id=inst.id,
                metric_type="NETWORK_TX_GB",
                value=Decimal(300),
                unit="GB",
                recorded_at=datetime.now(UTC),
            )
        ),
    )
    from railsaas.tasks.billing import usage_hourly

    result = usage_hourly(lookback_hours=0)
    assert result["reports"] == 1
    (report,) = wait_until(
        lambda: rows(app, UsageMeterReport, UsageMeterReport.sent_at.isnot(None)),
        message="the report sent",
    )
    assert report.value_cents == 1450
    assert report.identifier.startswith(f"overage:{tenant.id}:")
    assert usage_hourly(lookback_hours=0)["reports"] == 0  # nothing new to report

    # A retry of a report Stripe already has (our commit lost) is counted once.
    with app.app_context():
        assert (
            gateway.report_meter_event(
                customer_id=report.stripe_customer_id,
                value_cents=report.value_cents,
                identifier=report.identifier,
                timestamp=gateway.now(),
            )
            is False
        )
    customer = in_system(app, lambda s: s.get(Tenant, tenant.id).stripe_customer_id)
    meter = next(
        m for m in sc.v1.billing.meters.list().data if m.event_name == gateway.METER_EVENT_NAME
    )
    now = webhooks_to_app.now()
    summary = sc.v1.billing.meters.event_summaries.list(
        meter.id, params={"customer": customer, "start_time": now - 3600, "end_time": now + 60}
    )
    assert summary.data[0].aggregated_value == 1450

    webhooks_to_app.advance(days=32)
    renewal = sc.v1.invoices.list(params={"customer": customer, "limit": 1}).data[0]
    assert renewal.billing_reason == "subscription_cycle"
    assert renewal.total == 900 + 1450


def test_more_usage_later_reports_only_the_difference(app, factory, plans, stripe_emulator):
    _, tenant = factory.workspace()
    inst = factory.instance(tenant)
    with app.app_context():
        from railsaas.db import SYSTEM
        from railsaas.extensions import db

        with db.scope(SYSTEM) as s:
            t = s.get(Tenant, tenant.id)
            gateway.ensure_customer(s, t, email="o@example.com", name=t.name)
            t.plan_id = plans["starter"].id
            from railsaas.models import Subscription

            now = datetime.now(UTC)
            s.add(
                Subscription(
                    tenant_id=t.id,
                    plan_id=t.plan_id,
                    plan_name="Starter",
                    status="active",
                    stripe_subscription_id="sub_test_overage",
                    current_period_start=now - timedelta(days=1),
                    current_period_end=now + timedelta(days=29),
                )
            )

    def use(gb):
        in_system(
            app,
            lambda s: s.add(
                UsageMetric(
                    tenant_id=tenant.id,
                    instance_id=inst.id,
                    metric_type="NETWORK_TX_GB",
                    value=Decimal(gb),
                    unit="GB",
                    recorded_at=datetime.now(UTC) - timedelta(minutes=gb),
                )
            ),
        )

    def plan_reports():
        from railsaas.billing import usage

        def run(s):
            usage.rollup(s)
            return overage.plan_reports(s, datetime.now(UTC))

        return in_system(app, run)

    use(100)  # $5 -> $6.50: $1.50 over
    assert len(plan_reports()) == 1
    assert plan_reports() == []
    use(40)  # +$2 -> $2.60 more
    assert len(plan_reports()) == 1
    values = sorted(r.value_cents for r in rows(app, UsageMeterReport))
    assert values == [150, 260]
