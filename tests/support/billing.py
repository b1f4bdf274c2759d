"""Helpers for tests/billing (test modules import them from here, not from a conftest)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from devtools.emulators.stripe import sign
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Plan

CARD = {"card_expiry": "12 / 34", "card_cvc": "123", "email": "owner@example.com"}


PAYS, DECLINES, FAILS_LATER = "4242 4242 4242 4242", "4000 0000 0000 0002", "4000000000000341"


def make_plans(app) -> dict[str, Plan]:
    """Starter ($9, 2 instances, starter tier) and Pro ($29, 10, starter+standard), with
    their Stripe prices created through the gateway, as an admin's save would."""
    from railsaas.billing import gateway

    specs = {
        "starter": dict(
            name="Starter",
            price_cents=900,
            max_instances=2,
            allowed_tiers=["starter"],
            included_usage_cents=500,
            spend_cap_default_cents=2000,
        ),
        "pro": dict(
            name="Pro",
            price_cents=2900,
            max_instances=10,
            allowed_tiers=["starter", "standard"],
            included_usage_cents=2000,
            spend_cap_default_cents=10000,
        ),
    }
    out = {}
    with app.app_context(), db.scope(SYSTEM) as session:
        for n, (slug, spec) in enumerate(specs.items()):
            plan = Plan(
                id=uuid.uuid4(),
                slug=f"{slug}-{uuid.uuid4().hex[:6]}",
                sort_order=n,
                currency="usd",
                interval="month",
                trial_days=0,
                is_active=True,
                **spec,
            )
            plan.stripe_price_id = gateway.sync_plan_price(plan)
            plan.stripe_usage_price_id = gateway.usage_price_id(plan.interval)
            session.add(plan)
            session.flush()
            out[slug] = plan
    return out


def signed_post(client, payload: str, secret: str, timestamp: int | None = None):
    return client.post(
        "/api/stripe/webhook",
        data=payload,
        headers={
            "Stripe-Signature": sign(payload, secret, timestamp),
            "Content-Type": "application/json",
        },
    )


def deliver(
    client, stripe_emulator, types: tuple[str, ...] | None = None, events: list[dict] | None = None
) -> list[str]:
    """POST the emulator's recorded events (or `events`) to the app, signed as Stripe signs
    them; returns their ids. The emulator's own delivery is off in these tests."""
    secret = stripe_emulator.dispatcher.settings.secret
    chosen = (
        events
        if events is not None
        else [e for e in stripe_emulator.events() if types is None or e["type"] in types]
    )
    for event in chosen:
        resp = signed_post(client, json.dumps(event), secret)
        assert resp.status_code == 200, resp.get_data(as_text=True)
    return [e["id"] for e in chosen]


def process(*event_ids: str) -> list[str]:
    """Run the processing task in this thread, as the worker would."""
    from railsaas.tasks.billing import process_stripe_event

    return [process_stripe_event(event_id) for event_id in event_ids]


def in_system(app, fn: Callable[[Any], Any]) -> Any:
    with app.app_context(), db.scope(SYSTEM) as session:
        return fn(session)


def checkout_url(app, client, plan) -> str:
    """The owner presses Subscribe: our app answers with a redirect to hosted Checkout."""
    from tests.support import csrf_from

    page = client.get("/billing")
    assert page.status_code == 200, page.get_data(as_text=True)
    resp = client.post(
        "/billing/checkout",
        data={"plan_id": str(plan.id), "csrf_token": csrf_from(page.get_data(as_text=True))},
    )
    assert resp.status_code == 303, resp.get_data(as_text=True)
    return resp.headers["Location"]


def rows(app, model, *where) -> list:
    return in_system(app, lambda s: list(s.scalars(select(model).where(*where)).unique()))
