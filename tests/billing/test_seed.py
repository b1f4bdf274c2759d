"""`make dev`'s seed gives the demo plans Stripe prices (the emulator's), and carries on
without them when Stripe is not there."""

from __future__ import annotations

import logging

from devtools import seed
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Plan
from tests.support.billing import rows


def run_steps(app, *steps) -> None:
    with app.app_context(), db.scope(SYSTEM) as session:
        for step in steps:
            step(session)


def test_seed_prices_the_demo_plans_in_stripe(app, dbconn, stripe_emulator, sc):
    run_steps(app, seed.seed_plans, seed.seed_billing)
    demo = {p.slug: p for p in rows(app, Plan, Plan.slug.in_([p["slug"] for p in seed.PLANS]))}
    assert set(demo) == {"starter", "pro", "business"}
    for plan in demo.values():
        price = sc.v1.prices.retrieve(plan.stripe_price_id)
        assert (price.unit_amount, price.recurring.interval) == (plan.price_cents, "month")
    first = {slug: p.stripe_price_id for slug, p in demo.items()}
    run_steps(app, seed.seed_billing)  # every `make dev` start: nothing new
    again = {p.slug: p.stripe_price_id for p in rows(app, Plan, Plan.slug.in_(list(first)))}
    assert again == first


def test_without_stripe_the_seed_skips_billing_with_a_log_line(app, dbconn, caplog):
    saved = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there
    try:
        with caplog.at_level(logging.WARNING, logger="devtools.seed"):
            run_steps(app, seed.seed_plans, seed.seed_billing)
    finally:
        app.config["STRIPE_API_BASE"] = saved
    assert "Stripe is not reachable" in caplog.text
    assert all(
        p.stripe_price_id is None
        for p in rows(app, Plan, Plan.slug.in_([p["slug"] for p in seed.PLANS]))
    )
