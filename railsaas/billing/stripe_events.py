"""Stripe events: stored when they arrive, processed once, caught up when missed.

`record` stores a verified event (the webhook, or the catch-up job listing Stripe's events)
with INSERT ... ON CONFLICT DO NOTHING, and queues its processing through the outbox only
when this delivery inserted it: two deliveries at the same moment make one row, one task.

`process` locks the event's row and does nothing if it is already processed; otherwise it
applies the effects and sets `processed_at` in the same transaction. So an event takes
effect once, whatever the broker redelivers.

Only what Stripe returns is trusted. An event names its object; `process` fetches that object
from Stripe by id and hands the handler Stripe's copy, never the payload (handlers do not
get to see it). An object Stripe does not know (a forged or replayed event, another
account's) changes nothing: the event is recorded as processed with the outcome
`unknown_object` and audited. The order events arrive in does not matter either, since each
applies Stripe's current state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from railsaas.billing import dunning, gateway, holds, subscriptions
from railsaas.billing import notify as billing_notify
from railsaas.models import StripeEvent
from railsaas.observability import logging as logs
from railsaas.platform import audit, outbox

log = logging.getLogger(__name__)
TASK = "billing.process_stripe_event"
FLUSH_TASK = "billing.flush_overage"
# An event stored this long ago and still unprocessed lost its task: queue it again.
STUCK_AFTER = timedelta(minutes=15)


def _ts(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def record(session: Session, event: dict[str, Any]) -> bool:
    """Store a verified event; True if this call stored it (and queued its processing)."""
    inserted = session.execute(
        insert(StripeEvent)
        .values(id=event["id"], type=event["type"], created=_ts(event["created"]), payload=event)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(StripeEvent.id)
    ).scalar()
    if inserted is None:
        return False
    outbox.enqueue(session, TASK, event_id=event["id"])
    return True


def process(session: Session, event_id: str) -> str:
    """Apply one stored event once. Returns what happened (for logs and tests)."""
    event = session.scalars(
        select(StripeEvent).where(StripeEvent.id == event_id).with_for_update()
    ).first()
    if event is None:
        return "missing"
    if event.processed_at is not None:
        return "already_processed"
    with logs.timed(log, f"billing.{event.type}", event_id=event.id) as act:
        outcome = _handle(session, event)
        event.processed_at = datetime.now(UTC)
        act.status = STATUS_OF.get(outcome, "ignored")
        act.extra["outcome"] = outcome
    return outcome


# A handler's outcome as the log line's status: the event took effect, or it changed nothing.
STATUS_OF = {
    "applied": "succeeded",
    "notified": "succeeded",
    "no_subscription": "succeeded",
    "not_trialing": "succeeded",
}


# --- handlers ---------------------------------------------------------------------------------


def _object_id(event: StripeEvent) -> str | None:
    """The id of the object the event is about: the one thing read from the payload."""
    obj = (event.payload.get("data") or {}).get("object")
    found = obj.get("id") if isinstance(obj, dict) else None
    return found if isinstance(found, str) and found else None


def _handle(session: Session, event: StripeEvent) -> str:
    entry = HANDLERS.get(event.type)
    if entry is None:
        return "ignored"
    kind, handler = entry
    object_id = _object_id(event)
    obj = gateway.fetch(kind, object_id) if object_id else None
    if obj is None:
        return _ignore(session, event, "unknown_object", object_id)
    outcome = handler(session, event, obj)
    if outcome == "unknown_customer":
        _ignore(session, event, outcome, object_id)
    return outcome


def _ignore(session: Session, event: StripeEvent, why: str, object_id: str | None) -> str:
    """An event that changes nothing, on the record (a forged or foreign one shows here)."""
    audit.record(
        session,
        "billing.stripe_event_ignored",
        target_type="stripe_event",
        target_id=event.id,
        tenant_id=None,
        actor_user_id=None,
        actor_type="system",
        details={"type": event.type, "reason": why, "object": object_id},
    )
    return why


def _locked_tenant(session: Session, obj: dict[str, Any]):
    """The workspace a Stripe object (as Stripe returned it) belongs to, locked."""
    tenant_id = subscriptions.tenant_id_for(session, obj)
    act = logs.current_action()
    if act is not None and tenant_id:
        act.bind(tenant_id=tenant_id)  # the event's line (and those after) name the workspace
    return holds.lock_tenant(session, tenant_id) if tenant_id else None


def _checkout_completed(session: Session, event: StripeEvent, obj: dict[str, Any]) -> str:
    tenant = _locked_tenant(session, obj)
    if tenant is None:
        return "unknown_customer"
    customer = obj.get("customer")
    if isinstance(customer, str) and customer and not tenant.stripe_customer_id:
        tenant.stripe_customer_id = customer
    audit.record(
        session,
        "billing.checkout_completed",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        actor_user_id=None,
        actor_type="system",
        details={"checkout_session": obj.get("id")},
    )
    sub_id = obj.get("subscription")
    if isinstance(sub_id, dict):
        sub_id = sub_id.get("id")
    if not sub_id:
        return "no_subscription"
    if subscriptions.sync(session, tenant, sub_id, seen_at=event.created) is None:
        return _ignore(session, event, "unknown_object", sub_id)
    return "applied"


def _subscription_changed(session: Session, event: StripeEvent, obj: dict[str, Any]) -> str:
    tenant = _locked_tenant(session, obj)
    if tenant is None:
        return "unknown_customer"
    subscriptions.apply(session, tenant, obj, seen_at=event.created)
    return "applied"


def _invoice_subscription_id(invoice: dict[str, Any]) -> str | None:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    sub = details.get("subscription") or invoice.get("subscription")
    return sub.get("id") if isinstance(sub, dict) else sub


def _invoice(session: Session, event: StripeEvent, obj: dict[str, Any]) -> str:
    sub_id = _invoice_subscription_id(obj)
    if not sub_id:
        return "no_subscription"
    tenant = _locked_tenant(session, obj)
    if tenant is None:
        return "unknown_customer"
    failed = event.type == "invoice.payment_failed"
    if (
        subscriptions.sync(
            session,
            tenant,
            sub_id,
            seen_at=event.created,
            invoice_url=obj.get("hosted_invoice_url") if failed else None,
        )
        is None
    ):
        return _ignore(session, event, "unknown_object", sub_id)
    if (
        not failed
        and tenant.payment_failed_at is not None
        and not gateway.open_invoices(tenant.stripe_customer_id)
    ):
        # Paid up, though the subscription itself is over (Stripe may cancel it after the
        # last retry): the debt is gone, so dunning ends too.
        dunning.clear(session, tenant)
    return "applied"


def _invoice_created(session: Session, event: StripeEvent, obj: dict[str, Any]) -> str:
    """A renewal drafted: flush the old period's overage before Stripe finalizes it."""
    if obj.get("billing_reason") != "subscription_cycle" or obj.get("status") != "draft":
        return "not_a_renewal_draft"
    tenant_id = subscriptions.tenant_id_for(session, obj)
    if tenant_id is None:
        return "unknown_customer"
    outbox.enqueue(
        session,
        FLUSH_TASK,
        tenant_id=tenant_id,
        workspace_id=str(tenant_id),
        period_start=int(obj["period_start"]),
        period_end=int(obj["period_end"]),
    )
    return "flush_queued"


def _trial_will_end(session: Session, event: StripeEvent, obj: dict[str, Any]) -> str:
    tenant = _locked_tenant(session, obj)
    if tenant is None:
        return "unknown_customer"
    if obj.get("status") != "trialing":
        return "not_trialing"  # the trial ended early (or was never one): nothing to say
    ends = obj.get("trial_end")
    when = _ts(ends).strftime("%B %-d, %Y") if ends else "soon"
    billing_notify.tell(
        session,
        tenant.id,
        kind="trial_will_end",
        subject=f"Your trial ends on {when}",
        body=f"The free trial of {tenant.name} ends on {when}. The plan then "
        "continues on the card you gave at checkout; change or cancel it "
        "from the billing page before then if you wish.",
    )
    return "notified"


# event type -> (the kind of Stripe object it is about, fetched by id; the handler, which
# gets Stripe's copy of that object).
Handler = Callable[[Session, StripeEvent, dict[str, Any]], str]
HANDLERS: dict[str, tuple[str, Handler]] = {
    "checkout.session.completed": ("checkout.session", _checkout_completed),
    "customer.subscription.created": ("subscription", _subscription_changed),
    "customer.subscription.updated": ("subscription", _subscription_changed),
    "customer.subscription.deleted": ("subscription", _subscription_changed),
    "invoice.created": ("invoice", _invoice_created),
    "invoice.paid": ("invoice", _invoice),
    "invoice.payment_failed": ("invoice", _invoice),
    "customer.subscription.trial_will_end": ("subscription", _trial_will_end),
}


# --- catch-up ---------------------------------------------------------------------------------


def catch_up(
    session: Session, *, lookback: timedelta = timedelta(days=3), now: datetime | None = None
) -> list[str]:
    """Store (and queue) every handled event of the last `lookback` that we never received:
    what happened while the webhook endpoint was down. Stripe keeps events for 30 days.
    Events stored long ago but never processed (their task gave up) are queued again."""
    since = (now or gateway.now()) - lookback
    listed = list(gateway.list_events(since, list(HANDLERS)))
    recorded = []
    if listed:
        known = set(
            session.scalars(
                select(StripeEvent.id).where(StripeEvent.id.in_([e["id"] for e in listed]))
            )
        )
        for event in sorted(listed, key=lambda e: e["created"]):  # oldest first
            if event["id"] not in known and record(session, event):
                recorded.append(event["id"])
    stuck = session.scalars(
        select(StripeEvent.id)
        .where(
            StripeEvent.processed_at.is_(None),
            StripeEvent.received_at < datetime.now(UTC) - STUCK_AFTER,
        )
        .order_by(StripeEvent.created)
        .limit(500)
    )
    for event_id in stuck:
        outbox.enqueue(session, TASK, event_id=event_id)
    return recorded
