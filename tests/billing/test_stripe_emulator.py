"""The Stripe emulator, driven by the unmodified stripe-python client and plain HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import typing

import httpx
import pytest
import stripe

from devtools.emulators.stripe import forms
from tests.billing.webhook_receiver import WebhookReceiver
from tests.support import wait_until

CARD = {"card_expiry": "12 / 34", "card_cvc": "123", "email": "ada@example.com"}


@pytest.fixture
def sc(stripe_emulator) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_emulator", base_addresses={"api": stripe_emulator.url}, max_network_retries=0
    )


@pytest.fixture
def catalog(sc):
    starter = sc.v1.prices.create(
        params={
            "product_data": {"name": "Starter"},
            "unit_amount": 1900,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    pro = sc.v1.prices.create(
        params={
            "product_data": {"name": "Pro"},
            "unit_amount": 4900,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    meter = sc.v1.billing.meters.create(
        params={
            "display_name": "Usage overage",
            "event_name": "overage_cents",
            "default_aggregation": {"formula": "sum"},
        }
    )
    usage = sc.v1.prices.create(
        params={
            "product_data": {"name": "Usage overage"},
            "unit_amount": 1,
            "currency": "usd",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    return {"starter": starter, "pro": pro, "usage": usage, "meter": meter}


def checkout(sc, catalog, customer=None, **extra):
    params = {
        "mode": "subscription",
        "line_items": [
            {"price": catalog["starter"].id, "quantity": 1},
            {"price": catalog["usage"].id},
        ],
        "success_url": "http://app.test/billing/success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://app.test/billing/cancel",
        **extra,
    }
    if customer:
        params["customer"] = customer
    return sc.v1.checkout.sessions.create(params=params)


def subscribe(sc, catalog, number="4242 4242 4242 4242"):
    customer = sc.v1.customers.create(params={"email": "ada@example.com"})
    session = checkout(sc, catalog, customer.id)
    resp = httpx.post(session.url, data={"card_number": number, **CARD})
    assert resp.status_code == 303, resp.text
    session = sc.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription"]})
    return customer, session.subscription


# --- the API as stripe-python speaks it --------------------------------------------------


def test_form_decoding_handles_indexed_and_appended_arrays_and_nesting():
    pairs = [
        ("items[0][price]", "p1"),
        ("items[1][price]", "p2"),
        ("items[1][quantity]", "2"),
        ("expand[]", "a"),
        ("expand[]", "b"),
        ("metadata[k]", "v"),
    ]
    assert forms.decode(pairs) == {
        "items": [{"price": "p1"}, {"price": "p2", "quantity": "2"}],
        "expand": ["a", "b"],
        "metadata": {"k": "v"},
    }


def test_an_idempotency_key_creates_the_customer_once(sc):
    first = sc.v1.customers.create(
        params={"email": "a@example.com"}, options={"idempotency_key": "tenant-1-customer"}
    )
    again = sc.v1.customers.create(
        params={"email": "a@example.com"}, options={"idempotency_key": "tenant-1-customer"}
    )
    assert again.id == first.id
    assert len(sc.v1.customers.list().data) == 1


def test_an_idempotency_key_reused_with_other_parameters_is_refused(sc):
    sc.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "k"})
    with pytest.raises(stripe.IdempotencyError):
        sc.v1.customers.create(params={"email": "b@example.com"}, options={"idempotency_key": "k"})


def test_lists_come_newest_first_and_auto_paging_reads_every_page(sc):
    created = [sc.v1.customers.create(params={"email": f"c{i}@example.com"}).id for i in range(7)]
    page = sc.v1.customers.list(params={"limit": 3})
    assert [c.id for c in page.data] == created[::-1][:3]
    assert page.has_more
    every = [c.id for c in sc.v1.customers.list(params={"limit": 3}).auto_paging_iter()]
    assert every == created[::-1]


def test_expand_replaces_ids_with_objects_in_objects_and_lists(sc, catalog):
    _, sub = subscribe(sc, catalog)
    assert sub.status == "active"
    invoices = sc.v1.invoices.list(params={"expand": ["data.customer"]})
    assert invoices.data[0].customer.object == "customer"
    price = sc.v1.prices.retrieve(catalog["starter"].id, params={"expand": ["product"]})
    assert price.product.name == "Starter"
    with pytest.raises(stripe.InvalidRequestError):
        sc.v1.customers.retrieve(sub.customer, params={"expand": ["nothing"]})


def test_requests_without_a_secret_key_are_refused(stripe_emulator):
    resp = httpx.get(f"{stripe_emulator.url}/v1/customers")
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "invalid_request_error"
    resp = httpx.get(
        f"{stripe_emulator.url}/v1/customers", headers={"Authorization": "Bearer pk_test_nope"}
    )
    assert resp.status_code == 401


def test_unknown_parameters_and_missing_objects_answer_like_stripe(sc):
    with pytest.raises(stripe.InvalidRequestError) as err:
        sc.v1.customers.create(params={"emial": "typo@example.com"})
    assert err.value.code == "parameter_unknown"
    with pytest.raises(stripe.InvalidRequestError) as err:
        sc.v1.subscriptions.retrieve("sub_missing")
    assert err.value.http_status == 404
    assert err.value.code == "resource_missing"


# --- hosted checkout ---------------------------------------------------------------------


def test_hosted_checkout_pays_with_4242_and_returns_to_the_success_url(sc, catalog):
    customer = sc.v1.customers.create(params={"email": "ada@example.com"})
    session = checkout(sc, catalog, customer.id, client_reference_id="tenant-1")
    page = httpx.get(session.url)
    assert page.status_code == 200
    assert "$19.00" in page.text
    assert "<script" not in page.text
    resp = httpx.post(session.url, data={"card_number": "4242 4242 4242 4242", **CARD})
    assert resp.status_code == 303
    assert resp.headers["location"] == (f"http://app.test/billing/success?session_id={session.id}")
    done = sc.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["subscription", "line_items"]}
    )
    assert (done.status, done.payment_status) == ("complete", "paid")
    assert done.client_reference_id == "tenant-1"
    item = done.subscription["items"].data[0]
    assert item.current_period_end > item.current_period_start
    assert len(done.line_items.data) == 2
    invoice = sc.v1.invoices.retrieve(done.invoice)
    assert (invoice.status, invoice.amount_paid) == ("paid", 1900)
    assert invoice.parent.subscription_details.subscription == done.subscription.id
    types = [e.type for e in sc.v1.events.list(params={"limit": 100}).data]
    assert {"customer.subscription.created", "invoice.paid", "checkout.session.completed"} <= set(
        types
    )


def test_hosted_checkout_declines_0002_and_nothing_is_created(sc, catalog):
    session = checkout(sc, catalog)
    resp = httpx.post(session.url, data={"card_number": "4000 0000 0000 0002", **CARD})
    assert resp.status_code == 402
    assert "Your card was declined." in resp.text
    assert sc.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert sc.v1.subscriptions.list().data == []
    assert sc.v1.customers.list().data == []


def test_checkout_with_a_trial_starts_trialing_and_warns_before_it_ends(
    sc, catalog, stripe_emulator
):
    customer = sc.v1.customers.create(params={"email": "t@example.com"})
    session = checkout(sc, catalog, customer.id, subscription_data={"trial_period_days": 14})
    httpx.post(session.url, data={"card_number": "4242424242424242", **CARD})
    sub = sc.v1.subscriptions.list(params={"customer": customer.id}).data[0]
    assert sub.status == "trialing"
    stripe_emulator.advance(days=11, hours=1)
    assert sc.v1.events.list(params={"type": "customer.subscription.trial_will_end"}).data
    stripe_emulator.advance(days=3)
    assert sc.v1.subscriptions.retrieve(sub.id).status == "active"


# --- the clock: renewals, failures, retries -----------------------------------------------


def test_renewal_bills_the_next_period_and_the_metered_usage_of_the_last(
    sc, catalog, stripe_emulator
):
    customer, sub = subscribe(sc, catalog)
    sc.v1.billing.meter_events.create(
        params={
            "event_name": "overage_cents",
            "identifier": "usage-1",
            "payload": {"stripe_customer_id": customer.id, "value": "250"},
        }
    )
    stripe_emulator.advance(days=32)
    latest = sc.v1.invoices.list(params={"customer": customer.id, "limit": 1}).data[0]
    assert latest.billing_reason == "subscription_cycle"
    assert (latest.status, latest.total) == ("paid", 1900 + 250)
    renewed = sc.v1.subscriptions.retrieve(sub.id)["items"].data[0]
    assert renewed.current_period_start == sub["items"].data[0].current_period_end


def test_a_reused_meter_event_identifier_is_refused_and_counted_once(sc, catalog):
    customer, _ = subscribe(sc, catalog)
    params = {
        "event_name": "overage_cents",
        "identifier": "tenant-1:2026-11:500",
        "payload": {"stripe_customer_id": customer.id, "value": "500"},
    }
    sc.v1.billing.meter_events.create(params=params)
    with pytest.raises(stripe.InvalidRequestError, match="already exists"):
        sc.v1.billing.meter_events.create(params=params)
    now = int(time.time()) + 5
    summary = sc.v1.billing.meters.event_summaries.list(
        catalog["meter"].id,
        params={"customer": customer.id, "start_time": now - 3600, "end_time": now + 60},
    )
    assert summary.data[0].aggregated_value == 500


def test_a_failing_card_makes_the_renewal_fail_then_retries_end_unpaid(
    sc, catalog, stripe_emulator
):
    customer, sub = subscribe(sc, catalog)
    stripe_emulator.set_card(customer.id, "4000000000000341")
    stripe_emulator.advance(days=31, hours=2)
    assert sc.v1.subscriptions.retrieve(sub.id).status == "past_due"
    failed = sc.v1.events.list(params={"type": "invoice.payment_failed"}).data
    assert len(failed) == 1
    assert failed[0].data.object.next_payment_attempt is not None
    stripe_emulator.advance(days=16)
    assert len(sc.v1.events.list(params={"type": "invoice.payment_failed"}).data) == 4
    assert sc.v1.subscriptions.retrieve(sub.id).status == "unpaid"


def test_paying_the_hosted_invoice_makes_the_subscription_active_again(
    sc, catalog, stripe_emulator
):
    customer, sub = subscribe(sc, catalog)
    stripe_emulator.set_card(customer.id, "4000000000000341")
    stripe_emulator.advance(days=31, hours=2)
    invoice = sc.v1.invoices.list(params={"customer": customer.id, "status": "open"}).data[0]
    page = httpx.get(invoice.hosted_invoice_url)
    assert page.status_code == 200
    assert "Pay this invoice" in page.text
    resp = httpx.post(invoice.hosted_invoice_url, data={"card_number": "4242424242424242", **CARD})
    assert resp.status_code == 303
    assert sc.v1.invoices.retrieve(invoice.id).status == "paid"
    assert sc.v1.subscriptions.retrieve(sub.id).status == "active"
    pdf = httpx.get(invoice.invoice_pdf)
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert pdf.content.rstrip().endswith(b"%%EOF")


# --- plan changes -------------------------------------------------------------------------


def test_the_portal_switches_plan_with_a_proration_invoice(sc, catalog, stripe_emulator):
    customer, sub = subscribe(sc, catalog)
    stripe_emulator.advance(days=10)
    portal = sc.v1.billing_portal.sessions.create(
        params={"customer": customer.id, "return_url": "http://app.test/billing"}
    )
    page = httpx.get(portal.url)
    assert page.status_code == 200
    assert "Pro" in page.text
    item = next(i for i in sub["items"].data if i.price.recurring.usage_type == "licensed")
    resp = httpx.post(
        f"{portal.url}/update",
        data={"subscription": sub.id, "item": item.id, "price": catalog["pro"].id},
    )
    assert resp.status_code == 303
    assert "notice=" in resp.headers["location"]
    now = sc.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert any(i.price.id == catalog["pro"].id for i in now["items"].data)
    proration = now.latest_invoice
    assert proration.billing_reason == "subscription_update"
    credit, charge = (line.amount for line in proration.lines.data)
    assert credit < 0 < charge
    assert 0 < proration.total < 4900 - 1900  # two thirds of the month left, give or take
    update = sc.v1.events.list(params={"type": "customer.subscription.updated"}).data[0]
    assert "items" in update.data.previous_attributes


def test_create_prorations_puts_the_difference_on_the_next_invoice(sc, catalog, stripe_emulator):
    customer, sub = subscribe(sc, catalog)
    stripe_emulator.advance(days=15)
    item = next(i for i in sub["items"].data if i.price.recurring.usage_type == "licensed")
    sc.v1.subscriptions.update(
        sub.id,
        params={
            "items": [{"id": item.id, "price": catalog["pro"].id}],
            "proration_behavior": "create_prorations",
        },
    )
    assert len(sc.v1.invoices.list(params={"customer": customer.id}).data) == 1
    stripe_emulator.advance(days=16, hours=2)
    renewal = sc.v1.invoices.list(params={"customer": customer.id, "limit": 1}).data[0]
    descriptions = [line.description for line in renewal.lines.data]
    assert any(d.startswith("Unused time") for d in descriptions)
    assert renewal.total > 4900


def test_cancelling_in_the_portal_ends_the_subscription_at_the_period_end(
    sc, catalog, stripe_emulator
):
    customer, sub = subscribe(sc, catalog)
    portal = sc.v1.billing_portal.sessions.create(params={"customer": customer.id})
    httpx.post(f"{portal.url}/cancel", data={"subscription": sub.id})
    pending = sc.v1.subscriptions.retrieve(sub.id)
    assert pending.cancel_at_period_end
    assert pending.status == "active"
    stripe_emulator.advance(days=32)
    assert sc.v1.subscriptions.retrieve(sub.id).status == "canceled"
    assert sc.v1.events.list(params={"type": "customer.subscription.deleted"}).data


# --- events and webhooks ---------------------------------------------------------------------


def test_events_list_filters_by_type_and_creation_time(sc, catalog, stripe_emulator):
    subscribe(sc, catalog)
    cutoff = stripe_emulator.now() + 1
    stripe_emulator.advance(days=31, hours=2)
    later = sc.v1.events.list(params={"created": {"gte": cutoff}, "limit": 100}).data
    assert later
    assert all(e.created >= cutoff for e in later)
    invoices = sc.v1.events.list(params={"type": "invoice.*", "limit": 100}).data
    assert invoices
    assert all(e.type.startswith("invoice.") for e in invoices)


def test_webhooks_are_signed_the_way_stripe_signs_them(sc, catalog, stripe_emulator):
    with WebhookReceiver() as hook:
        stripe_emulator.configure_webhooks(url=hook.url, secret="whsec_test_secret")
        subscribe(sc, catalog)
        assert stripe_emulator.wait_for_webhooks()
        assert hook.received
        for got in hook.received:
            event = stripe.Webhook.construct_event(
                got.body, got.signature, "whsec_test_secret", tolerance=300
            )
            assert event.object == "event"
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(
                hook.received[0].body, hook.received[0].signature, "whsec_other"
            )


def test_a_failed_delivery_is_retried_until_it_succeeds(sc, stripe_emulator):
    with WebhookReceiver() as hook:
        stripe_emulator.configure_webhooks(url=hook.url, retry_base_seconds=0.05)
        hook.fail_next = 2
        sc.v1.customers.create(params={"email": "r@example.com"})
        assert stripe_emulator.wait_for_webhooks()
        attempts = stripe_emulator.dispatcher.deliveries
        assert [d["status"] for d in attempts] == [500, 500, 200]
        assert [d["attempt"] for d in attempts] == [1, 2, 3]
        assert len({json.loads(r.body)["id"] for r in hook.received}) == 1


def test_duplicated_deliveries_arrive_together(sc, stripe_emulator):
    # Both copies must be inside the receiver at the same moment (a rendezvous, not a
    # stopwatch: sent one after the other, the first would wait for a partner in vain).
    with WebhookReceiver(together=2) as hook:
        stripe_emulator.configure_webhooks(url=hook.url, duplicates=2)
        sc.v1.customers.create(params={"email": "d@example.com"})
        assert stripe_emulator.wait_for_webhooks(timeout=60)
        assert len(hook.received) == 2
        assert hook.received[0].body == hook.received[1].body
        assert hook.met == 2


def test_held_deliveries_are_released_in_reverse_order(sc, stripe_emulator):
    with WebhookReceiver() as hook:
        stripe_emulator.configure_webhooks(url=hook.url, hold=True)
        ids = [sc.v1.customers.create(params={"email": f"h{i}@example.com"}).id for i in range(3)]
        assert stripe_emulator.wait_for_webhooks()
        assert hook.received == []
        stripe_emulator.dispatcher.release("reverse")
        assert stripe_emulator.wait_for_webhooks()
        assert [e["data"]["object"]["id"] for e in hook.events()] == ids[::-1]


def test_a_down_endpoint_gets_nothing_until_events_are_replayed(sc, stripe_emulator):
    with WebhookReceiver() as hook:
        stripe_emulator.configure_webhooks(url=hook.url, enabled=False)
        sc.v1.customers.create(params={"email": "down@example.com"})
        assert stripe_emulator.wait_for_webhooks()
        assert hook.received == []
        resp = httpx.post(f"{stripe_emulator.url}/_emulator/webhooks/replay", json={"since": 0})
        assert resp.json()["replayed"]
        assert stripe_emulator.wait_for_webhooks()
        assert [e["type"] for e in hook.events()] == ["customer.created"]


def test_delayed_deliveries_wait_before_the_first_attempt(sc, stripe_emulator):
    with WebhookReceiver() as hook:
        stripe_emulator.configure_webhooks(url=hook.url, delay_seconds=0.4)
        started = time.monotonic()
        sc.v1.customers.create(params={"email": "late@example.com"})
        assert stripe_emulator.wait_for_webhooks()
        assert hook.received[0].at - started >= 0.35


def test_the_clock_control_endpoint_advances_and_runs_renewals(sc, catalog, stripe_emulator):
    _, sub = subscribe(sc, catalog)
    before = httpx.get(f"{stripe_emulator.url}/_emulator/clock").json()["now"]
    resp = httpx.post(f"{stripe_emulator.url}/_emulator/clock/advance", json={"days": 31})
    assert resp.json()["now"] >= before + 31 * 86400
    assert resp.json()["processed"] >= 1
    item = sc.v1.subscriptions.retrieve(sub.id)["items"].data[0]
    assert item.current_period_start > sub["items"].data[0].current_period_start


def test_the_command_line_starts_a_server_stripe_python_can_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.emulators.stripe", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        # A fresh interpreter importing Flask and stripe can take many seconds on a loaded
        # machine: wait on a generous deadline, and stop early only if the process died.
        def healthy() -> bool:
            assert proc.poll() is None, "the emulator exited"
            try:
                return httpx.get(f"{url}/_emulator/health").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, timeout=90, interval=0.1, message="the emulator to answer")
        client = stripe.StripeClient("sk_test_cli", base_addresses={"api": url})
        assert client.v1.customers.create(params={"email": "cli@example.com"}).id
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- Stripe as it really behaves (docs/stripe.md) -----------------------------------------


def _nonnull_fields(cls) -> set[str]:
    """The fields stripe-python (generated from Stripe's OpenAPI spec) types without
    `Optional`: Stripe renders them on every object, never null."""
    out = set()
    for name, hint in cls.__dict__.get("__annotations__", {}).items():
        if name == "OBJECT_NAME" or typing.get_origin(hint) is typing.ClassVar:
            continue
        if type(None) not in typing.get_args(hint):
            out.add(name)
    return out


# Fields the spec marks non-null that the emulator does not render at all, each with why.
NOT_RENDERED = {
    "deleted",  # only on a deleted object's stub
    "billing_schedules",  # a preview feature, absent without it
}


def _assert_complete(obj: dict, cls, label: str) -> None:
    missing = {f for f in _nonnull_fields(cls) - NOT_RENDERED if obj.get(f) is None}
    assert not missing, f"{label} lacks non-null fields {sorted(missing)}"


def test_objects_carry_every_field_stripes_spec_marks_non_null(sc, catalog, stripe_emulator):
    from stripe.checkout import Session

    customer, sub = subscribe(sc, catalog)

    def raw(path):
        headers = {"Authorization": "Bearer sk_test_x"}
        return httpx.get(f"{stripe_emulator.url}{path}", headers=headers).json()

    subscription = raw(f"/v1/subscriptions/{sub.id}")
    _assert_complete(subscription, stripe.Subscription, "subscription")
    for item in subscription["items"]["data"]:
        _assert_complete(item, stripe.SubscriptionItem, "subscription item")
        _assert_complete(item["price"], stripe.Price, "price")
        assert item["plan"]["id"] == item["price"]["id"]
    invoice = raw(f"/v1/invoices/{subscription['latest_invoice']}")
    _assert_complete(invoice, stripe.Invoice, "invoice")
    for line in invoice["lines"]["data"]:
        _assert_complete(line, stripe.InvoiceLineItem, "invoice line")
    sessions = raw(f"/v1/checkout/sessions?customer={customer.id}")["data"]
    _assert_complete(sessions[0], Session, "checkout session")
    _assert_complete(raw(f"/v1/customers/{customer.id}"), stripe.Customer, "customer")
    _assert_complete(raw("/v1/events?limit=1")["data"][0], stripe.Event, "event")
    _assert_complete(
        raw(f"/v1/billing/meters/{catalog['meter'].id}"), stripe.billing.Meter, "meter"
    )
    # Nullable fields are rendered too, as null: never left out.
    assert "pause_collection" in subscription
    assert subscription["pause_collection"] is None


def test_an_unknown_api_version_is_refused_and_old_versions_get_their_shape(
    sc, catalog, stripe_emulator
):
    _, sub = subscribe(sc, catalog)
    url = f"{stripe_emulator.url}/v1/subscriptions/{sub.id}"
    auth = {"Authorization": "Bearer sk_test_x"}
    bad = httpx.get(url, headers={**auth, "Stripe-Version": "2026-13-40.bogus"})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "Invalid Stripe API version: 2026-13-40.bogus"
    current = httpx.get(url, headers={**auth, "Stripe-Version": stripe.api_version}).json()
    assert "current_period_end" not in current  # basil on: on the items only
    old = httpx.get(url, headers={**auth, "Stripe-Version": "2025-02-24.acacia"})
    assert old.headers["Stripe-Version"] == "2025-02-24.acacia"
    assert old.json()["current_period_end"] == old.json()["items"]["data"][0]["current_period_end"]
    invoice = httpx.get(
        f"{stripe_emulator.url}/v1/invoices/{current['latest_invoice']}",
        headers={**auth, "Stripe-Version": "2025-02-24.acacia"},
    ).json()
    assert invoice["subscription"] == sub.id


def test_a_renewal_invoice_is_a_draft_for_an_hour_and_its_period_is_the_last_one(
    sc, catalog, stripe_emulator
):
    customer, sub = subscribe(sc, catalog)
    item = sub["items"].data[0]
    start, end = item.current_period_start, item.current_period_end
    first = sc.v1.invoices.retrieve(sub.latest_invoice)
    assert first.period_start == first.period_end == first.created  # nothing accrued yet

    def usage(identifier: str, value: str, at: int) -> None:
        sc.v1.billing.meter_events.create(
            params={
                "event_name": "overage_cents",
                "identifier": identifier,
                "timestamp": at,
                "payload": {"stripe_customer_id": customer.id, "value": value},
            }
        )

    stripe_emulator.advance(seconds=end - stripe_emulator.now())
    renewal = sc.v1.invoices.list(params={"customer": customer.id, "limit": 1}).data[0]
    assert (renewal.status, renewal.number, renewal.hosted_invoice_url) == ("draft", None, None)
    assert renewal.automatically_finalizes_at == end + 3600
    assert (renewal.period_start, renewal.period_end) == (start, end)
    usage("late-but-in-grace", "300", end - 10)  # the old period's, reported in the hour
    stripe_emulator.advance(hours=1)
    usage("after-finalization", "700", end - 5)  # accepted by Stripe, billed nowhere
    final = sc.v1.invoices.retrieve(renewal.id)
    assert (final.status, final.total) == ("paid", 1900 + 300)
    periods = {
        line.description.split(" (")[0]: (line.period.start, line.period.end)
        for line in final.lines.data
    }
    licensed = next(p for d, p in periods.items() if d.startswith("1 ×"))
    assert licensed[0] == end  # the plan is billed in advance for the next period
    assert periods["Usage overage"] == (start, end)  # usage in arrears for the last
    stripe_emulator.advance(days=32)
    later = sc.v1.invoices.list(params={"customer": customer.id, "limit": 1}).data[0]
    assert later.total == 1900  # the late 700 never shows up


def test_a_paid_invoice_can_be_refunded_through_its_payment_intent(sc, catalog):
    _, sub = subscribe(sc, catalog)
    payments = sc.v1.invoice_payments.list(params={"invoice": sub.latest_invoice}).data
    assert len(payments) == 1
    assert payments[0].amount_paid == 1900
    pi = payments[0].payment.payment_intent
    refund = sc.v1.refunds.create(params={"payment_intent": pi})
    assert (refund.amount, refund.status) == (1900, "succeeded")
    with pytest.raises(stripe.InvalidRequestError, match="already been refunded"):
        sc.v1.refunds.create(params={"payment_intent": pi})


def test_open_checkout_sessions_can_be_listed_and_expired(sc, catalog):
    customer = sc.v1.customers.create(params={"email": "ada@example.com"})
    first = checkout(sc, catalog, customer.id)
    second = checkout(sc, catalog, customer.id)
    listed = sc.v1.checkout.sessions.list(params={"customer": customer.id, "status": "open"})
    assert {s.id for s in listed.data} == {first.id, second.id}
    expired = sc.v1.checkout.sessions.expire(first.id)
    assert (expired.status, expired.url) == ("expired", None)
    assert (
        httpx.post(first.url, data={"card_number": "4242424242424242", **CARD}).status_code == 400
    )
