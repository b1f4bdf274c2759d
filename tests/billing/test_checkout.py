"""Subscribing end to end over real HTTP: our app sends the owner to the emulator's hosted
Checkout, a card is typed in, Stripe's webhooks reach the app on a real port, and a real
Celery worker turns them into an active subscription."""

from __future__ import annotations

import httpx
import pytest

from railsaas.models import Email, StripeEvent, Subscription, Tenant
from tests.support import login_as, wait_until
from tests.support.billing import CARD, DECLINES, PAYS, checkout_url, in_system, rows


@pytest.fixture
def owner_client(app, committed_factory):
    user, tenant = committed_factory.workspace()
    client = app.test_client()
    login_as(app, client, user)
    return client, user, tenant


def test_paying_with_4242_ends_in_an_active_subscription_through_the_webhook(
    app, owner_client, committed_plans, webhooks_to_app, celery_worker
):
    client, _, tenant = owner_client
    url = checkout_url(app, client, committed_plans["pro"])
    page = httpx.get(url)
    assert page.status_code == 200
    assert "$29.00" in page.text
    paid = httpx.post(url, data={"card_number": PAYS, **CARD})
    assert paid.status_code == 303
    success = paid.headers["location"]
    assert success.startswith(app.config["BASE_URL"] + "/billing/success?session_id=cs_")

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
        message="an active subscription",
    )
    assert sub.plan_id == committed_plans["pro"].id
    assert in_system(app, lambda s: s.get(Tenant, tenant.id).plan_id) == committed_plans["pro"].id
    assert webhooks_to_app.wait_for_webhooks(timeout=60)
    wait_until(
        lambda: all(e.processed_at for e in rows(app, StripeEvent)), message="every event processed"
    )
    assert len(rows(app, Email, Email.kind == "billing/subscription_started")) == 1

    back = client.get(success.removeprefix(app.config["BASE_URL"]))
    assert back.status_code == 200
    assert "Pro plan" in back.get_data(as_text=True)
    billing = client.get("/billing").get_data(as_text=True)
    assert 'data-testid="subscription-status">active' in billing


def test_a_declined_card_subscribes_nothing(
    app, owner_client, committed_plans, webhooks_to_app, celery_worker
):
    client, _, tenant = owner_client
    url = checkout_url(app, client, committed_plans["starter"])
    declined = httpx.post(url, data={"card_number": DECLINES, **CARD})
    assert declined.status_code == 402
    assert "Your card was declined." in declined.text
    assert webhooks_to_app.wait_for_webhooks(timeout=60)
    wait_until(
        lambda: all(e.processed_at for e in rows(app, StripeEvent)), message="every event processed"
    )
    assert rows(app, Subscription) == []
    assert in_system(app, lambda s: s.get(Tenant, tenant.id).plan_id) is None


def test_the_cancel_page_says_nothing_was_charged(
    app, owner_client, committed_plans, stripe_emulator
):
    client, _, _ = owner_client
    page = client.get("/billing/cancel")
    assert page.status_code == 200
    assert "Nothing was charged" in page.get_data(as_text=True)


def test_billing_pages_allow_forms_to_go_to_stripes_hosted_pages_only(
    app, owner_client, stripe_emulator
):
    client, _, _ = owner_client
    csp = client.get("/billing").headers["Content-Security-Policy"]
    assert f"form-action 'self' {stripe_emulator.url};" in csp
    assert "script-src 'self';" in csp
    other = client.get("/dashboard").headers["Content-Security-Policy"]
    assert "form-action 'self';" in other
