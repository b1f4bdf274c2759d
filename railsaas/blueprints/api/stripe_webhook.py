"""POST /api/stripe/webhook: Stripe's events, verified over the raw body, stored, queued.

The answer is fast (one INSERT and one outbox row); the work happens in
`billing.process_stripe_event`. A bad, stale (over 300 s) or missing signature gets 400 and
nothing is written. The endpoint takes no cookie and no token: the signature is the auth.
"""

from __future__ import annotations

from flask import jsonify, request

from railsaas import stripe_gateway as gateway
from railsaas.blueprints.api import bp
from railsaas.db import SYSTEM, set_context
from railsaas.extensions import db
from railsaas.services import audit, stripe_events


@bp.post("/stripe/webhook")
@audit.exempt("Stripe's delivery is only stored; the task that applies it audits the effects")
def stripe_webhook():
    event = gateway.construct_event(request.get_data(cache=False),
                                    request.headers.get("Stripe-Signature"), tolerance=300)
    set_context(db.session, SYSTEM)  # stripe_events is for system jobs only
    stored = stripe_events.record(db.session, event)
    db.session.commit()
    return jsonify({"received": True, "duplicate": not stored})

