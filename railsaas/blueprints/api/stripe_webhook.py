"""POST /api/stripe/webhook: Stripe's events, verified over the raw body, stored, queued.

The answer is fast (one INSERT and one outbox row); the work happens in
`billing.process_stripe_event`. A bad, stale (over 300 s) or missing signature gets 400 and
nothing is written. The endpoint takes no cookie and no token: the signature is the auth.
"""

from __future__ import annotations

from flask import request

from railsaas.billing import gateway, stripe_events
from railsaas.blueprints.api.blueprint import bp
from railsaas.blueprints.api.operations import Header, Media, operation
from railsaas.db import SYSTEM, set_context
from railsaas.extensions import db
from railsaas.platform import audit
from railsaas.schemas.billing import WebhookReceived


@bp.post("/stripe/webhook")
@audit.exempt("Stripe's delivery is only stored; the task that applies it audits the effects")
@operation(
    auth="public",
    raw_body=Media(
        "application/json",
        {"type": "object", "description": "A Stripe event, exactly as Stripe sent it."},
    ),
    headers=[
        Header(
            "Stripe-Signature",
            "t=...,v1=...: Stripe's signature over the raw "
            "body with the endpoint's signing secret.",
        )
    ],
    responses={200: WebhookReceived},
    tags=["webhooks"],
)
def stripe_webhook():
    """Receive a Stripe event (Stripe calls this, not customers).

    Verified over the raw body (400 for a bad, stale or missing signature), stored once,
    applied in the background."""
    event = gateway.construct_event(
        request.get_data(cache=False), request.headers.get("Stripe-Signature"), tolerance=300
    )
    set_context(db.session, SYSTEM)  # stripe_events is for system jobs only
    stored = stripe_events.record(db.session, event)
    db.session.commit()
    return WebhookReceived(received=True, duplicate=not stored)
