"""Stripe as it really behaves (issue 15): each test drives the app against the pessimistic
emulator (docs/stripe.md) and failed before its fix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from railsaas.billing import gateway, overage, usage
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import (
    AuditLog,
    Email,
    OutboxMessage,
    Subscription,
    Tenant,
    UsageMeterReport,
    UsageMetric,
)
from tests.support.api import auth_header
from tests.support.billing import CARD, PAYS, deliver, in_system, process, rows


@pytest.fixture
def owner(client, factory):
    user, tenant = factory.workspace()
    return user, tenant, auth_header(client, user)


def start_checkout(client, headers, plan) -> dict:
    resp = client.post("/api/billing/subscription", json={"plan_id": str(plan.id)}, headers=headers)
    assert resp.status_code == 201, resp.json
    return resp.json


def pay(url: str) -> None:
    paid = httpx.post(url, data={"card_number": PAYS, **CARD})
    assert paid.status_code == 303, paid.text


def stripe_price_of(sc, subscription_id: str) -> str:
    sub = sc.v1.subscriptions.retrieve(subscription_id)
    return next(i.price.id for i in sub["items"].data if i.price.recurring.usage_type == "licensed")


def test_switching_plans_back_and_forth_within_a_day_leaves_stripe_where_we_say(
    app, client, owner, plans, stripe_emulator, sc
):
    _, tenant, headers = owner
    pay(start_checkout(client, headers, plans["starter"])["checkout_url"])
    process(*deliver(client, stripe_emulator))
    for name in ("pro", "starter", "pro"):  # A -> B -> A -> B within minutes
        resp = client.post(
            "/api/billing/subscription", json={"plan_id": str(plans[name].id)}, headers=headers
        )
        assert resp.status_code == 200, resp.json
        assert resp.json["plan"]["name"] == plans[name].name
    (row,) = rows(app, Subscription, Subscription.tenant_id == tenant.id)
    assert stripe_price_of(sc, row.stripe_subscription_id) == plans["pro"].stripe_price_id
    assert row.plan_id == plans["pro"].id
    keys = [
        a.details["request_id"]
        for a in rows(
            app,
            AuditLog,
            AuditLog.action == "billing.plan_change_requested",
            AuditLog.tenant_id == tenant.id,
        )
    ]
    assert len(set(keys)) == 3


# --- late usage corrections -------------------------------------------------------------------


@dataclass
class _Value:  # Railway's `usage` answer, one measurement of one project
    project_id: str
    measurement: str
    value: float


class RailwayAnswering:
    """Railway's usage API as seen by `usage.collect`: what it answers for the hour now."""

    def __init__(self, project_id: str) -> None:
        self.project_id, self.gb = project_id, 0.0

    def usage(self, **_query):
        return [_Value(self.project_id, "NETWORK_TX_GB", self.gb)]


def test_a_late_correction_replaces_the_hour_and_overage_reports_only_the_difference(
    app, factory, plans, stripe_emulator
):
    _, tenant = factory.workspace()
    inst = factory.instance(tenant, railway_project_id="proj-correct")
    now = datetime.now(UTC)
    with app.app_context(), db.scope(SYSTEM) as s:
        t = s.get(Tenant, tenant.id)
        gateway.ensure_customer(s, t, email="o@example.com", name=t.name)
        t.plan_id = plans["starter"].id
        s.add(
            Subscription(
                tenant_id=t.id,
                plan_id=t.plan_id,
                plan_name="Starter",
                status="active",
                stripe_subscription_id="sub_test_correction",
                current_period_start=now - timedelta(days=1),
                current_period_end=now + timedelta(days=29),
            )
        )
    hour = now.replace(minute=0, second=0, microsecond=0)
    railway = RailwayAnswering("proj-correct")

    def collect_and_report() -> tuple[int, list]:
        def run(s):
            stored = usage.collect(s, railway, hour, hour + timedelta(hours=1))
            return stored

        stored = in_system(app, run)
        in_system(app, usage.rollup)
        return stored, in_system(app, lambda s: overage.plan_reports(s, datetime.now(UTC)))

    railway.gb = 200  # $10 -> $13: $8 over the $5 included
    assert collect_and_report()[0] == 1
    railway.gb = 300  # Railway corrects the hour: $15 -> $19.50, $14.50 over
    stored, reports = collect_and_report()
    assert stored == 1
    assert len(reports) == 1
    assert collect_and_report() == (0, [])  # the same figure again changes nothing
    (metric,) = rows(app, UsageMetric, UsageMetric.instance_id == inst.id)
    assert metric.value == 300
    values = sorted(
        r.value_cents for r in rows(app, UsageMeterReport, UsageMeterReport.tenant_id == tenant.id)
    )
    assert values == [650, 800]  # 800 first, then only the 650 more; 1450 in all


# --- two Checkout sessions, two subscriptions --------------------------------------------------


def test_a_new_checkout_expires_the_workspaces_earlier_open_one(
    app, client, owner, plans, stripe_emulator
):
    _, _, headers = owner
    first = start_checkout(client, headers, plans["starter"])
    second = start_checkout(client, headers, plans["pro"])
    assert first["checkout_session_id"] != second["checkout_session_id"]
    stale = httpx.post(first["checkout_url"], data={"card_number": PAYS, **CARD})
    assert stale.status_code == 400  # expired: it can no longer make a subscription
    pay(second["checkout_url"])


def test_a_second_live_subscription_is_cancelled_and_refunded(
    app, client, owner, plans, stripe_emulator, sc
):
    _, tenant, headers = owner
    pay(start_checkout(client, headers, plans["starter"])["checkout_url"])
    process(*deliver(client, stripe_emulator))
    customer = in_system(app, lambda s: s.get(Tenant, tenant.id).stripe_customer_id)
    # A session opened before the first was paid (another tab, 24 hours payable).
    meta = {"tenant_id": str(tenant.id), "plan_id": str(plans["pro"].id)}
    other = sc.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer,
            "client_reference_id": str(tenant.id),
            "line_items": [{"price": plans["pro"].stripe_price_id, "quantity": 1}],
            "success_url": "http://app.test/ok",
            "metadata": meta,
            "subscription_data": {"metadata": meta},
        }
    )
    seen = {e["id"] for e in stripe_emulator.events()}
    pay(other.url)
    process(
        *deliver(
            client,
            stripe_emulator,
            events=[e for e in stripe_emulator.events() if e["id"] not in seen],
        )
    )

    duplicate = sc.v1.checkout.sessions.retrieve(other.id).subscription
    assert sc.v1.subscriptions.retrieve(duplicate).status == "canceled"
    payment = sc.v1.invoice_payments.list(
        params={"invoice": sc.v1.subscriptions.retrieve(duplicate).latest_invoice}
    ).data[0]
    charge = sc.v1.payment_intents.retrieve(payment.payment.payment_intent).latest_charge
    assert sc.v1.charges.retrieve(charge).refunded is True
    live = rows(
        app, Subscription, Subscription.tenant_id == tenant.id, Subscription.status == "active"
    )
    assert [s.plan_id for s in live] == [plans["starter"].id]
    assert in_system(app, lambda s: s.get(Tenant, tenant.id).plan_id) == plans["starter"].id
    (audit,) = rows(
        app,
        AuditLog,
        AuditLog.action == "billing.duplicate_subscription_ended",
        AuditLog.tenant_id == tenant.id,
    )
    assert audit.details["subscription"] == duplicate
    assert rows(
        app,
        Email,
        Email.tenant_id == tenant.id,
        Email.kind == "billing/duplicate_subscription_refunded",
    )


# --- overage at the period boundary -------------------------------------------------------------


def test_the_old_periods_overage_is_flushed_onto_its_renewal_invoice(
    app, client, factory, owner, plans, stripe_emulator, sc
):
    from railsaas.tasks.billing import flush_overage

    _, tenant, headers = owner
    pay(start_checkout(client, headers, plans["starter"])["checkout_url"])
    process(*deliver(client, stripe_emulator))
    (sub,) = rows(app, Subscription, Subscription.tenant_id == tenant.id)
    seen = {e["id"] for e in stripe_emulator.events()}
    # $15 of egress used inside the period, not reported by the hourly job yet.
    instance = factory.instance(tenant).id
    in_system(
        app,
        lambda s: s.add(
            UsageMetric(
                tenant_id=tenant.id,
                instance_id=instance,
                metric_type="NETWORK_TX_GB",
                value=Decimal(300),
                unit="GB",
                recorded_at=sub.current_period_start,
            )
        ),
    )
    in_system(app, usage.rollup)

    end = int(sub.current_period_end.timestamp())
    stripe_emulator.advance(seconds=end - stripe_emulator.now())  # renewal drafted
    process(
        *deliver(
            client,
            stripe_emulator,
            events=[e for e in stripe_emulator.events() if e["id"] not in seen],
        )
    )
    queued = rows(app, OutboxMessage, OutboxMessage.task == "billing.flush_overage")
    assert len(queued) == 1
    with app.app_context():
        assert flush_overage(**queued[0].args) == "sent"  # sent after the period ended...
    (report,) = rows(app, UsageMeterReport, UsageMeterReport.tenant_id == tenant.id)
    assert report.event_at < sub.current_period_end  # ...stamped inside it
    stripe_emulator.advance(hours=1, seconds=5)  # Stripe finalizes the renewal
    renewal = sc.v1.invoices.list(
        params={
            "customer": sc.v1.subscriptions.retrieve(sub.stripe_subscription_id).customer,
            "limit": 1,
        }
    ).data[0]
    assert renewal.billing_reason == "subscription_cycle"
    assert (renewal.status, renewal.total) == ("paid", 900 + 1450)

    # The API gives the period the plan line pays for, not Stripe's usage period.
    listed = client.get("/api/billing/invoices", headers=headers).json["items"]
    newest = next(i for i in listed if i["id"] == renewal.id)
    assert datetime.fromisoformat(newest["period_start"]) == sub.current_period_end
