"""Webhook delivery as it really goes wrong: the same event twice at the same moment, events
out of order, and events never delivered while the endpoint was down (the catch-up job)."""

from __future__ import annotations

import json
import threading
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from railsaas.models import AuditLog, Email, OutboxMessage, StripeEvent, Subscription, Tenant
from tests.support import login_as, wait_until
from tests.support.billing import (
    CARD,
    PAYS,
    checkout_url,
    in_system,
    process,
    rows,
)


@pytest.fixture
def owner_client(app, committed_factory):
    user, tenant = committed_factory.workspace()
    client = app.test_client()
    login_as(app, client, user)
    return client, user, tenant


def pay(app, client, plan) -> None:
    resp = httpx.post(checkout_url(app, client, plan), data={"card_number": PAYS, **CARD})
    assert resp.status_code == 303


def together(n: int, fn):
    """Run fn(i) in n threads released at the same instant; their results in order."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def run(i: int) -> None:
        try:
            barrier.wait(30)
            results[i] = fn(i)
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_two_simultaneous_deliveries_of_one_event_store_it_once_and_queue_it_once(
    app, owner_client, committed_plans, stripe_emulator, live_server
):
    client, _, tenant = owner_client
    pay(app, client, committed_plans["starter"])
    event = stripe_emulator.events("customer.subscription.created")[0]
    body = json.dumps(event)
    secret = stripe_emulator.dispatcher.settings.secret
    from devtools.emulators.stripe import sign

    def post(_):
        return httpx.post(
            f"{live_server.url}/api/stripe/webhook",
            content=body,
            headers={"Stripe-Signature": sign(body, secret), "Content-Type": "application/json"},
            timeout=60,
        )

    answers = together(2, post)
    assert [a.status_code for a in answers] == [200, 200]
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True]
    assert len(rows(app, StripeEvent, StripeEvent.id == event["id"])) == 1
    queued = in_system(
        app,
        lambda s: s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.task == "billing.process_stripe_event")
        ),
    )
    assert queued == 1

    # The broker may still hand the task to two workers at once: it takes effect once.
    outcomes = together(2, lambda _: process(event["id"])[0])
    assert sorted(outcomes) == ["already_processed", "applied"]
    assert len(rows(app, Subscription, Subscription.tenant_id == tenant.id)) == 1
    assert len(rows(app, Email, Email.kind == "billing/subscription_started")) == 1
    assert len(rows(app, AuditLog, AuditLog.action == "billing.subscription_started")) == 1


def test_every_event_sent_twice_at_once_takes_effect_once(
    app, owner_client, committed_plans, webhooks_to_app, celery_worker
):
    client, _, tenant = owner_client
    webhooks_to_app.configure_webhooks(duplicates=2)
    pay(app, client, committed_plans["starter"])
    assert webhooks_to_app.wait_for_webhooks(timeout=60)
    copies = Counter(d["event_id"] for d in webhooks_to_app.dispatcher.deliveries if d["ok"])
    assert copies
    assert set(copies.values()) == {2}
    wait_until(
        lambda: len(rows(app, StripeEvent, StripeEvent.processed_at.isnot(None))) == len(copies),
        message="every event processed",
    )
    assert len(rows(app, StripeEvent)) == len(copies)
    assert len(rows(app, Subscription, Subscription.tenant_id == tenant.id)) == 1
    assert len(rows(app, Email, Email.kind == "billing/subscription_started")) == 1
    assert len(rows(app, AuditLog, AuditLog.action == "billing.checkout_completed")) == 1


@pytest.mark.parametrize("order", ["reverse", "shuffle"])
def test_events_out_of_order_end_in_the_state_stripe_holds(
    app, owner_client, committed_plans, webhooks_to_app, celery_worker, sc, order
):
    client, _, tenant = owner_client
    webhooks_to_app.configure_webhooks(hold=True)
    pay(app, client, committed_plans["starter"])
    # Upgrade in the portal, then cancel at the period end: three subscription states.
    sub_id = webhooks_to_app.events("customer.subscription.created")[0]["data"]["object"]["id"]
    remote = sc.v1.subscriptions.retrieve(sub_id)
    item = next(i for i in remote["items"].data if i.price.recurring.usage_type == "licensed")
    sc.v1.subscriptions.update(
        sub_id,
        params={
            "items": [{"id": item.id, "price": committed_plans["pro"].stripe_price_id}],
            "proration_behavior": "always_invoice",
        },
    )
    sc.v1.subscriptions.update(sub_id, params={"cancel_at_period_end": True})
    held = webhooks_to_app.dispatcher.release(order, seed=7)
    assert len(held) >= 6
    assert webhooks_to_app.wait_for_webhooks(timeout=60)
    wait_until(
        lambda: len(rows(app, StripeEvent, StripeEvent.processed_at.isnot(None))) == len(held),
        message="every event processed",
    )
    (sub,) = rows(app, Subscription, Subscription.tenant_id == tenant.id)
    assert (sub.status, sub.plan_id, sub.cancel_at_period_end) == (
        "active",
        committed_plans["pro"].id,
        True,
    )
    assert in_system(app, lambda s: s.get(Tenant, tenant.id).plan_id) == committed_plans["pro"].id
    assert sub.stripe_updated_at is not None


def test_the_catch_up_job_processes_events_missed_while_the_endpoint_was_down(
    app, owner_client, committed_plans, webhooks_to_app, celery_worker
):
    client, _, tenant = owner_client
    webhooks_to_app.configure_webhooks(enabled=False)  # our endpoint is "down"
    pay(app, client, committed_plans["starter"])
    assert webhooks_to_app.wait_for_webhooks(timeout=60)
    assert rows(app, StripeEvent) == []
    from railsaas.tasks.billing import catch_up_events

    recorded = catch_up_events()
    assert recorded >= 3
    sub = wait_until(
        lambda: next(
            iter(
                rows(
                    app,
                    Subscription,
                    Subscription.tenant_id == tenant.id,
                    Subscription.status == "active",
                )
            ),
            None,
        ),
        message="the missed subscription",
    )
    assert sub.plan_id == committed_plans["starter"].id
    assert catch_up_events() == 0  # a second run finds nothing new
