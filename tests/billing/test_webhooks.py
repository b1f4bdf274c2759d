"""POST /api/stripe/webhook and what each event does, with real signatures: the events are
the Stripe emulator's own, posted to the app signed as Stripe signs them, then processed by
the task the webhook queues."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from sqlalchemy import func, select

from devtools.emulators.stripe import sign
from railsaas.models import (
    AuditLog,
    Email,
    Instance,
    OutboxMessage,
    StripeEvent,
    Subscription,
    Tenant,
)
from tests.support import login_as
from tests.support.billing import (
    CARD,
    FAILS_LATER,
    PAYS,
    checkout_url,
    deliver,
    in_system,
    process,
    rows,
    signed_post,
)
from tests.support.logs import capture_logs


@pytest.fixture
def owner(factory):
    user, tenant = factory.workspace()
    return user, tenant


def subscribe(app, client, stripe_emulator, owner, plan, card=PAYS) -> list[str]:
    """Owner subscribes through hosted Checkout; the resulting events are delivered and
    processed. Returns the processed event ids."""
    user, _ = owner
    login_as(app, client, user)
    url = checkout_url(app, client, plan)
    assert url.startswith(stripe_emulator.url)
    resp = httpx.post(url, data={"card_number": card, **CARD})
    assert resp.status_code == 303, resp.text
    return deliver_all(client, stripe_emulator)


_seen: set[str] = set()


def deliver_all(client, stripe_emulator) -> list[str]:
    """Deliver and process every emulator event not delivered yet in this test."""
    fresh = [e for e in stripe_emulator.events() if e["id"] not in _seen]
    _seen.update(e["id"] for e in fresh)
    ids = deliver(client, stripe_emulator, events=fresh)
    process(*ids)
    return ids


@pytest.fixture(autouse=True)
def _forget_seen():
    _seen.clear()


def tenant(app, tenant_id) -> Tenant:
    return in_system(app, lambda s: s.get(Tenant, tenant_id))


def emails(app, tenant_id, kind) -> list[Email]:
    return rows(app, Email, Email.tenant_id == tenant_id, Email.kind == kind)


def count(app, model) -> int:
    return in_system(app, lambda s: s.scalar(select(func.count()).select_from(model)))


# --- the signature ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["forged", "stale", "future", "missing", "garbage", "tampered"])
def test_a_bad_stale_or_missing_signature_gets_400_and_nothing_is_written(
    app, client, stripe_emulator, case
):
    secret = stripe_emulator.dispatcher.settings.secret
    payload = json.dumps(
        {
            "id": "evt_test_1",
            "object": "event",
            "type": "invoice.paid",
            "created": int(time.time()),
            "data": {"object": {}},
        }
    )
    headers = {"Content-Type": "application/json"}
    body = payload
    if case == "forged":
        headers["Stripe-Signature"] = sign(payload, "whsec_someone_else")
    elif case == "stale":
        headers["Stripe-Signature"] = sign(payload, secret, int(time.time()) - 301)
    elif case == "future":  # a signature made now to be replayed later
        headers["Stripe-Signature"] = sign(payload, secret, int(time.time()) + 301)
    elif case == "garbage":
        headers["Stripe-Signature"] = "t=1,v1=deadbeef"
    elif case == "tampered":
        headers["Stripe-Signature"] = sign(payload, secret)
        body = payload.replace("invoice.paid", "invoice.payment_failed")
    resp = client.post("/api/stripe/webhook", data=body, headers=headers)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "invalid_signature"
    assert count(app, StripeEvent) == 0
    assert count(app, OutboxMessage) == 0


def test_a_signature_within_the_tolerance_is_accepted(app, client, stripe_emulator):
    secret = stripe_emulator.dispatcher.settings.secret
    payload = json.dumps(
        {
            "id": "evt_test_2",
            "object": "event",
            "type": "customer.created",
            "created": int(time.time()),
            "data": {"object": {}},
        }
    )
    resp = signed_post(client, payload, secret, int(time.time()) - 250)
    assert resp.status_code == 200
    assert resp.get_json() == {"received": True, "duplicate": False}
    assert process("evt_test_2") == ["ignored"]


def test_a_redelivered_event_is_stored_once_and_takes_effect_once(
    app, client, stripe_emulator, owner, plans
):
    subscribe(app, client, stripe_emulator, owner, plans["starter"])
    _, t = owner
    started = stripe_emulator.events("customer.subscription.created")[0]
    again = signed_post(client, json.dumps(started), stripe_emulator.dispatcher.settings.secret)
    assert again.get_json()["duplicate"] is True
    assert process(started["id"]) == ["already_processed"]
    assert len(emails(app, t.id, "billing/subscription_started")) == 1
    assert len(rows(app, Subscription, Subscription.tenant_id == t.id)) == 1


# --- every handled event ----------------------------------------------------------------------


def test_checkout_completed_makes_an_active_subscription_with_the_plan(
    app, client, stripe_emulator, owner, plans
):
    ids = subscribe(app, client, stripe_emulator, owner, plans["starter"])
    _, t = owner
    outcomes = {e.type: e for e in rows(app, StripeEvent, StripeEvent.id.in_(ids))}
    assert all(e.processed_at is not None for e in outcomes.values())
    assert {"checkout.session.completed", "customer.subscription.created", "invoice.paid"} <= set(
        outcomes
    )
    (sub,) = rows(app, Subscription, Subscription.tenant_id == t.id)
    assert (sub.status, sub.plan_id, sub.plan_name) == ("active", plans["starter"].id, "Starter")
    assert sub.current_period_end > sub.current_period_start
    after = tenant(app, t.id)
    assert after.plan_id == plans["starter"].id
    assert after.stripe_customer_id
    assert len(emails(app, t.id, "billing/subscription_started")) == 1


def test_each_processed_event_writes_one_line_with_its_action_duration_and_status(
    app, client, stripe_emulator, owner, plans
):
    with capture_logs() as logs:
        subscribe(app, client, stripe_emulator, owner, plans["starter"])
        process("evt_not_stored")
    _, t = owner
    (paid,) = logs.actions("billing.invoice.paid")
    assert (paid["status"], paid["outcome"], paid["service"]) == ("succeeded", "applied", "billing")
    assert paid["tenant_id"] == str(t.id)
    assert isinstance(paid["duration_ms"], float)
    assert paid["event_id"].startswith("evt_")
    assert logs.actions("checkout.session.completed") == []  # always under billing.
    assert len(logs.actions("billing.checkout.session.completed")) == 1
    assert not [
        r for r in logs.records() if r.get("event_id") == "evt_not_stored" and r.get("status")
    ]  # nothing stored: nothing processed, no line


def test_the_billing_page_shows_plan_status_renewal_and_invoices(
    app, client, stripe_emulator, owner, plans
):
    subscribe(app, client, stripe_emulator, owner, plans["starter"])
    page = client.get("/billing").get_data(as_text=True)
    assert "Starter" in page
    assert 'data-testid="subscription-status">active' in page
    assert 'data-testid="renewal-date"' in page
    part = client.get("/billing/invoices", headers={"HX-Request": "true"})
    assert part.headers["Vary"] == "HX-Request" or "HX-Request" in part.headers["Vary"]
    html = part.get_data(as_text=True)
    assert "<html" not in html
    assert "$9.00" in html
    assert f"{stripe_emulator.url}/i/in_" in html  # hosted invoice
    assert "/pdf" in html


def test_invoice_payment_failed_starts_dunning_and_invoice_paid_ends_it(
    app, client, stripe_emulator, owner, plans, sc
):
    subscribe(app, client, stripe_emulator, owner, plans["starter"])
    _, t = owner
    customer = tenant(app, t.id).stripe_customer_id
    stripe_emulator.set_card(customer, FAILS_LATER)
    stripe_emulator.advance(days=31, hours=2)
    deliver_all(client, stripe_emulator)
    failing = tenant(app, t.id)
    assert failing.dunning_stage == "notified"
    assert failing.payment_failed_at is not None
    (mail,) = emails(app, t.id, "billing/payment_failed")
    invoice = sc.v1.invoices.list(params={"customer": customer, "status": "open"}).data[0]
    assert invoice.hosted_invoice_url in mail.text_body
    banner = client.get("/billing").get_data(as_text=True)
    assert 'data-testid="billing-banner"' in banner
    assert "payment failed" in banner

    httpx.post(invoice.hosted_invoice_url, data={"card_number": PAYS, **CARD})
    deliver_all(client, stripe_emulator)
    paid = tenant(app, t.id)
    assert (paid.dunning_stage, paid.payment_failed_at) == (None, None)
    assert len(emails(app, t.id, "billing/payment_recovered")) == 1
    assert 'data-testid="billing-banner"' not in client.get("/billing").get_data(as_text=True)


def test_subscription_updated_follows_a_plan_change_in_the_portal(
    app, client, stripe_emulator, owner, plans, sc
):
    subscribe(app, client, stripe_emulator, owner, plans["starter"])
    _, t = owner
    from tests.support import csrf_from

    csrf = csrf_from(client.get("/billing").get_data(as_text=True))
    portal = client.post("/billing/portal", data={"csrf_token": csrf})
    assert portal.status_code == 303
    assert portal.headers["Location"].startswith(stripe_emulator.url)
    (sub,) = rows(app, Subscription, Subscription.tenant_id == t.id)
    remote = sc.v1.subscriptions.retrieve(sub.stripe_subscription_id)
    item = next(i for i in remote["items"].data if i.price.recurring.usage_type == "licensed")
    resp = httpx.post(
        f"{portal.headers['Location']}/update",
        data={"subscription": remote.id, "item": item.id, "price": plans["pro"].stripe_price_id},
    )
    assert resp.status_code == 303
    deliver_all(client, stripe_emulator)
    (sub,) = rows(app, Subscription, Subscription.tenant_id == t.id)
    assert (sub.plan_id, sub.plan_name) == (plans["pro"].id, "Pro")
    assert tenant(app, t.id).plan_id == plans["pro"].id
    assert len(emails(app, t.id, "billing/plan_changed")) == 1


def test_subscription_deleted_ends_the_plan_and_stops_the_instances(
    app, client, stripe_emulator, owner, plans, factory, sc
):
    subscribe(app, client, stripe_emulator, owner, plans["starter"])
    _, t = owner
    inst = factory.instance(t, status="running")
    (sub,) = rows(app, Subscription, Subscription.tenant_id == t.id)
    sc.v1.subscriptions.update(sub.stripe_subscription_id, params={"cancel_at_period_end": True})
    deliver_all(client, stripe_emulator)
    (sub,) = rows(app, Subscription, Subscription.tenant_id == t.id)
    assert sub.cancel_at_period_end is True
    assert "ends with this period" in client.get("/billing").get_data(as_text=True)
    stripe_emulator.advance(days=32)
    deliver_all(client, stripe_emulator)
    (sub,) = rows(app, Subscription, Subscription.tenant_id == t.id)
    assert sub.status == "canceled"
    assert tenant(app, t.id).plan_id is None
    (after,) = rows(app, Instance, Instance.id == inst.id)
    assert after.status == "suspended"
    assert len(emails(app, t.id, "billing/subscription_ended")) == 1


def test_trial_will_end_emails_the_owner(app, client, stripe_emulator, owner, plans):
    from railsaas.models import Plan

    trial = plans["starter"]
    in_system(app, lambda s: setattr(s.get(Plan, trial.id), "trial_days", 14))
    trial.trial_days = 14
    subscribe(app, client, stripe_emulator, owner, trial)
    _, t = owner
    (sub,) = rows(app, Subscription, Subscription.tenant_id == t.id)
    assert sub.status == "trialing"
    stripe_emulator.advance(days=11, hours=1)
    deliver_all(client, stripe_emulator)
    (mail,) = emails(app, t.id, "billing/trial_will_end")
    assert "trial" in mail.subject.lower()


def test_an_event_for_a_customer_we_do_not_know_changes_nothing(
    app, client, stripe_emulator, sc, plans
):
    customer = sc.v1.customers.create(params={"email": "stranger@example.com"})
    session = sc.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer.id,
            "line_items": [{"price": plans["starter"].stripe_price_id, "quantity": 1}],
            "success_url": "http://elsewhere.test/ok",
        }
    )
    httpx.post(session.url, data={"card_number": PAYS, **CARD})
    ids = deliver(
        client,
        stripe_emulator,
        types=("checkout.session.completed", "customer.subscription.created"),
    )
    assert set(process(*ids)) == {"unknown_customer"}
    assert count(app, Subscription) == 0


def _forged(kind: str, tenant_id, plan) -> dict:
    """What a forged (or replayed foreign) event may claim: objects Stripe never made,
    pointing at a workspace of ours by its id."""
    price = {
        "id": plan.stripe_price_id,
        "metadata": {"plan_id": str(plan.id)},
        "recurring": {"interval": "month", "usage_type": "licensed"},
    }
    sub = {
        "id": "sub_forged",
        "object": "subscription",
        "customer": "cus_forged",
        "status": "active",
        "metadata": {"tenant_id": str(tenant_id)},
        "trial_end": int(time.time()) + 86400,
        "items": {"data": [{"id": "si_forged", "price": price}]},
    }
    return {
        "subscription": sub,
        "checkout.session": {
            "id": "cs_forged",
            "object": "checkout.session",
            "status": "complete",
            "customer": "cus_forged",
            "client_reference_id": str(tenant_id),
            "metadata": {"tenant_id": str(tenant_id)},
            "subscription": "sub_forged",
        },
        "invoice": {
            "id": "in_forged",
            "object": "invoice",
            "customer": "cus_forged",
            "subscription": "sub_forged",
            "status": "paid",
            "metadata": {"tenant_id": str(tenant_id)},
        },
    }[kind]


@pytest.mark.parametrize(
    "etype",
    [
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
        "checkout.session.completed",
        "invoice.paid",
        "invoice.payment_failed",
    ],
)
def test_a_signed_event_about_an_object_stripe_does_not_know_changes_nothing(
    app, client, stripe_emulator, owner, plans, etype
):
    _, t = owner
    kind = {"customer": "subscription", "checkout": "checkout.session", "invoice": "invoice"}[
        etype.split(".")[0]
    ]
    event = {
        "id": f"evt_forged_{etype}",
        "object": "event",
        "type": etype,
        "created": int(time.time()),
        "data": {"object": _forged(kind, t.id, plans["pro"])},
    }
    resp = signed_post(client, json.dumps(event), stripe_emulator.dispatcher.settings.secret)
    assert resp.status_code == 200
    assert process(event["id"]) == ["unknown_object"]
    after = tenant(app, t.id)
    assert (after.plan_id, after.stripe_customer_id, after.dunning_stage) == (None, None, None)
    assert count(app, Subscription) == 0
    assert rows(app, Email, Email.tenant_id == t.id) == []
    (stored,) = rows(app, StripeEvent, StripeEvent.id == event["id"])
    assert stored.processed_at is not None
    (audited,) = rows(app, AuditLog, AuditLog.action == "billing.stripe_event_ignored")
    assert audited.details["type"] == etype
    assert audited.details["reason"] == "unknown_object"


def test_an_event_is_applied_as_stripe_has_the_object_not_as_the_payload_says(
    app, client, stripe_emulator, owner, plans
):
    subscribe(app, client, stripe_emulator, owner, plans["starter"])
    _, t = owner
    (sub,) = rows(app, Subscription, Subscription.tenant_id == t.id)
    lie = _forged("subscription", t.id, plans["pro"]) | {"id": sub.stripe_subscription_id}
    event = {
        "id": "evt_lie",
        "object": "event",
        "type": "customer.subscription.updated",
        "created": int(time.time()) + 60,
        "data": {"object": lie},
    }
    signed_post(client, json.dumps(event), stripe_emulator.dispatcher.settings.secret)
    assert process("evt_lie") == ["applied"]
    assert tenant(app, t.id).plan_id == plans["starter"].id


def test_paying_after_stripe_ended_the_subscription_ends_dunning_but_not_the_hold(
    app, client, stripe_emulator, owner, plans, factory, sc
):
    subscribe(app, client, stripe_emulator, owner, plans["starter"])
    _, t = owner
    inst = factory.instance(t, status="running")
    customer = tenant(app, t.id).stripe_customer_id
    stripe_emulator.set_card(customer, FAILS_LATER)
    stripe_emulator.advance(days=31, hours=2)
    deliver_all(client, stripe_emulator)
    assert tenant(app, t.id).dunning_stage == "notified"
    (sub,) = rows(app, Subscription, Subscription.tenant_id == t.id)
    sc.v1.subscriptions.cancel(sub.stripe_subscription_id)
    deliver_all(client, stripe_emulator)
    assert tenant(app, t.id).plan_id is None
    invoice = sc.v1.invoices.list(params={"customer": customer, "status": "open"}).data[0]
    httpx.post(invoice.hosted_invoice_url, data={"card_number": PAYS, **CARD})
    deliver_all(client, stripe_emulator)
    after = tenant(app, t.id)
    assert (after.dunning_stage, after.payment_failed_at) == (None, None)
    assert rows(app, Instance, Instance.id == inst.id)[0].status == "suspended"  # no plan


def test_an_event_whose_task_was_lost_is_queued_again_by_the_catch_up(app, stripe_emulator):
    from datetime import UTC, datetime, timedelta

    from railsaas.billing import stripe_events

    def setup(s):
        s.add(
            StripeEvent(
                id="evt_lost",
                type="customer.subscription.updated",
                created=datetime.now(UTC),
                payload={"id": "evt_lost"},
                received_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )

    in_system(app, setup)
    assert in_system(app, lambda s: stripe_events.catch_up(s)) == []
    queued = rows(app, OutboxMessage, OutboxMessage.task == "billing.process_stripe_event")
    assert [m.args for m in queued] == [{"event_id": "evt_lost"}]


def test_only_the_owner_starts_a_checkout(app, client, stripe_emulator, owner, plans, factory):
    from tests.support import csrf_from

    _, t = owner
    member = factory.user()
    factory.member(t, member, role="admin")
    login_as(app, client, member)
    page = client.get("/billing").get_data(as_text=True)
    assert "Only the workspace owner can subscribe" in page
    resp = client.post(
        "/billing/checkout",
        data={"plan_id": str(plans["starter"].id), "csrf_token": csrf_from(page)},
    )
    assert resp.status_code == 403
    assert tenant(app, t.id).stripe_customer_id is None
