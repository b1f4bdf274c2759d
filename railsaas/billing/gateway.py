"""The only place that talks to Stripe.

Everything goes through stripe-python's `StripeClient`, built from STRIPE_SECRET_KEY and
pointed at STRIPE_API_BASE when set (the emulator in `make dev` and the tests). Every request
names the API version it was written for (`API_VERSION`, sent as `Stripe-Version`), so an
account whose default version is another one still answers in the shape read here; the
pyproject pins stripe-python to the major release that speaks it. Functions return plain
dicts (Stripe's JSON), so the services never hold stripe-python objects.

Idempotency keys are derived from our own ids (a tenant's customer, a plan's product and
price, an overage report's identifier), so a retry after a lost answer finds what the first
attempt created instead of creating it twice. A key names one user action, never only its
parameters: Stripe replays the first answer to a repeated key for 24 hours, so a plan
switch back and forth (A->B->A->B) keyed on the target price would do nothing the second
time while we believed it done; such keys carry the action's own id (`request_id`).
Errors become `BillingUnavailable` (503) with a message fit for a page: never the key,
never Stripe's raw request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import stripe
from flask import current_app
from sqlalchemy.orm import Session

from railsaas.errors import ServiceError
from railsaas.outbound import tls_context

log = logging.getLogger(__name__)

# Overage is sold by the cent: one meter, one metered price per billing interval.
METER_EVENT_NAME = "railsaas_usage_overage_cents"
USAGE_PRICE_LOOKUP = "railsaas_usage_overage_{interval}"
# The API version this module reads and writes (stripe-python 16's own); the emulator
# answers it and refuses versions Stripe does not know.
API_VERSION = "2026-10-28.endive"
# Stripe's hosted pages when STRIPE_API_BASE is not set (for the CSP's form-action).
STRIPE_HOSTED_ORIGINS = ("https://checkout.stripe.com", "https://billing.stripe.com")


class BillingUnavailable(ServiceError):
    status, code = 503, "billing_unavailable"


class InvalidSignature(ServiceError):
    status, code = 400, "invalid_signature"


_clients: dict[tuple, stripe.StripeClient] = {}
_lock = threading.Lock()


def client() -> stripe.StripeClient:
    """One client per process and configuration (thread-safe; tests repoint the config)."""
    cfg = current_app.config
    key = cfg["STRIPE_SECRET_KEY"]
    base = cfg.get("STRIPE_API_BASE") or ""
    cache_key = (hashlib.sha256(key.encode()).hexdigest(), base)
    with _lock:
        c = _clients.get(cache_key)
        if c is None:
            options: dict[str, Any] = {
                "stripe_version": API_VERSION,
                "max_network_retries": 2,
                "http_client": stripe.RequestsClient(timeout=(5, 30)),
            }
            if base:
                options["base_addresses"] = {"api": base}
            c = _clients[cache_key] = stripe.StripeClient(key, **options)
        return c


def _call(what: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except stripe.StripeError as exc:
        # user_message is Stripe's own text for people; the rest may quote the request.
        log.warning(
            "stripe call failed",
            extra={"call": what, "error": type(exc).__name__, "code": getattr(exc, "code", None)},
        )
        raise BillingUnavailable(
            "Billing is not reachable right now. Nothing was changed; try again shortly."
        ) from exc


def _plain(obj: Any) -> dict[str, Any]:
    """Stripe's JSON as plain values (decimals as strings, as Stripe sends them)."""
    return obj.to_dict(for_json=True) if hasattr(obj, "to_dict") else dict(obj)


def is_missing(exc: BaseException) -> bool:
    """True when the underlying Stripe error says the object does not exist."""
    cause = exc.__cause__ if isinstance(exc, BillingUnavailable) else exc
    return isinstance(cause, stripe.InvalidRequestError) and (
        getattr(cause, "code", None) == "resource_missing"
    )


# --- time -------------------------------------------------------------------------------------


def now() -> datetime:
    """Stripe's idea of now. The emulator's clock can be advanced (renewals, dunning in a
    demo or a test); against Stripe itself this is the wall clock."""
    base = current_app.config.get("STRIPE_API_BASE") or ""
    if base:
        try:
            response = httpx.get(
                f"{base.rstrip('/')}/_emulator/clock", timeout=2, verify=tls_context()
            )
            if response.status_code == 200:
                return datetime.fromtimestamp(int(response.json()["now"]), UTC)
        except (httpx.HTTPError, ValueError, KeyError):
            pass
    return datetime.now(UTC)


def hosted_origins() -> list[str]:
    """Origins of the hosted Checkout and portal pages we redirect a form to."""
    base = current_app.config.get("STRIPE_API_BASE") or ""
    if base:
        parts = urlsplit(base)
        return [f"{parts.scheme}://{parts.netloc}"]
    return list(STRIPE_HOSTED_ORIGINS)


# --- webhooks ---------------------------------------------------------------------------------


def construct_event(payload: bytes, sig_header: str | None, tolerance: int = 300) -> dict[str, Any]:
    """Verify a webhook's `Stripe-Signature` over the raw body; the event as a dict."""
    if not sig_header:
        raise InvalidSignature("Missing Stripe-Signature header.")
    # stripe-python refuses signatures older than the tolerance but not newer: one dated in
    # the future could be replayed until that date. Refuse both ways.
    stamps = [p.partition("=")[2] for p in sig_header.split(",") if p.strip().startswith("t=")]
    if stamps and stamps[0].strip().isdigit() and int(stamps[0]) > time.time() + tolerance:
        raise InvalidSignature("The signature is dated in the future.")
    try:
        stripe.Webhook.construct_event(
            payload, sig_header, current_app.config["STRIPE_WEBHOOK_SECRET"], tolerance=tolerance
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError:
        raise InvalidSignature("The signature does not match, or is too old.") from None
    except ValueError:
        raise InvalidSignature("The body is not a Stripe event.") from None
    if (
        not isinstance(event, dict)
        or not event.get("id")
        or not event.get("type")
        or "created" not in event
    ):
        raise InvalidSignature("The body is not a Stripe event.")
    return event  # the JSON exactly as Stripe sent it


def list_events(since: datetime, types: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Events created at or after `since`, of these types, newest first (every page)."""
    page = _call(
        "events.list",
        client().v1.events.list,
        params={"created": {"gte": int(since.timestamp())}, "types": list(types), "limit": 100},
    )
    try:
        for event in page.auto_paging_iter():
            yield _plain(event)
    except stripe.StripeError as exc:
        raise BillingUnavailable("Billing is not reachable right now.") from exc


# --- customers --------------------------------------------------------------------------------


def ensure_customer(session: Session, tenant, *, email: str | None, name: str) -> str:
    """The workspace's Stripe customer, created once (tenants.stripe_customer_id).

    The idempotency key is the tenant's id: two requests racing here get the same customer.
    A customer that no longer exists in Stripe (deleted, or a fresh emulator) is replaced."""
    if tenant.stripe_customer_id:
        try:
            existing = _plain(
                _call(
                    "customers.retrieve", client().v1.customers.retrieve, tenant.stripe_customer_id
                )
            )
            if not existing.get("deleted"):
                return tenant.stripe_customer_id
        except BillingUnavailable as exc:
            if not is_missing(exc):
                raise
    attempt = 0 if not tenant.stripe_customer_id else _digest(tenant.stripe_customer_id)
    customer = _call(
        "customers.create",
        client().v1.customers.create,
        params={
            "email": email or "",
            "name": name,
            "metadata": {"tenant_id": str(tenant.id)},
        },
        options={"idempotency_key": f"tenant-{tenant.id}-customer-{attempt}"},
    )
    tenant.stripe_customer_id = customer.id
    session.flush()
    return customer.id


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# --- plans: products and prices ---------------------------------------------------------------


def retrieve_price(price_id: str) -> dict[str, Any] | None:
    try:
        return _plain(_call("prices.retrieve", client().v1.prices.retrieve, price_id))
    except BillingUnavailable as exc:
        if is_missing(exc):
            return None
        raise


def price_matches(price: dict[str, Any] | None, plan) -> bool:
    return bool(
        price
        and price.get("active")
        and price.get("recurring")
        and price.get("unit_amount") == plan.price_cents
        and (price.get("currency") or "").lower() == plan.currency.lower()
        and price["recurring"].get("interval") == plan.interval
        and price["recurring"].get("usage_type", "licensed") == "licensed"
    )


def sync_plan_price(plan) -> str:
    """A Stripe price matching the plan (amount, currency, interval), created with its
    product when missing; a price that no longer matches is archived (existing subscriptions
    keep it). Returns the price id to store on the plan."""
    c = client()
    current = retrieve_price(plan.stripe_price_id) if plan.stripe_price_id else None
    if price_matches(current, plan):
        if current.get("product"):
            _call(
                "products.update",
                c.v1.products.update,
                current["product"],
                params={"name": plan.name, "metadata": {"plan_id": str(plan.id)}},
            )
        return current["id"]
    product_id = current.get("product") if current else None
    if product_id:
        _call(
            "products.update",
            c.v1.products.update,
            product_id,
            params={"name": plan.name, "metadata": {"plan_id": str(plan.id)}},
        )
    else:
        product = _call(
            "products.create",
            c.v1.products.create,
            params={"name": plan.name, "metadata": {"plan_id": str(plan.id)}},
            options={"idempotency_key": f"plan-{plan.id}-product-{_digest(plan.name)}"},
        )
        product_id = product.id
    terms = f"{plan.price_cents}-{plan.currency.lower()}-{plan.interval}"
    price = _call(
        "prices.create",
        c.v1.prices.create,
        params={
            "product": product_id,
            "unit_amount": plan.price_cents,
            "currency": plan.currency.lower(),
            "recurring": {"interval": plan.interval},
            "nickname": plan.name,
            "metadata": {"plan_id": str(plan.id)},
        },
        options={"idempotency_key": f"plan-{plan.id}-price-{terms}-{product_id}"},
    )
    if current and current.get("active"):
        _call("prices.update", c.v1.prices.update, current["id"], params={"active": False})
    return price.id


def usage_price_id(interval: str) -> str:
    """The metered price that bills overage (1 cent per unit) on a subscription with this
    interval, with its meter; both created the first time they are needed."""
    c = client()
    lookup = USAGE_PRICE_LOOKUP.format(interval=interval)
    found = _call(
        "prices.list",
        c.v1.prices.list,
        params={"lookup_keys": [lookup], "active": True, "limit": 1},
    )
    if found.data:
        return found.data[0].id
    meters = _call(
        "billing.meters.list", c.v1.billing.meters.list, params={"status": "active", "limit": 100}
    )
    meter = next((m for m in meters.data if m.event_name == METER_EVENT_NAME), None)
    if meter is None:
        meter = _call(
            "billing.meters.create",
            c.v1.billing.meters.create,
            params={
                "display_name": "Usage beyond the plan",
                "event_name": METER_EVENT_NAME,
                "default_aggregation": {"formula": "sum"},
            },
            options={"idempotency_key": f"meter-{METER_EVENT_NAME}"},
        )
    price = _call(
        "prices.create",
        c.v1.prices.create,
        params={
            "product_data": {"name": "Usage beyond the plan"},
            "unit_amount": 1,
            "currency": "usd",
            "lookup_key": lookup,
            "recurring": {"interval": interval, "usage_type": "metered", "meter": meter.id},
        },
        options={"idempotency_key": f"usage-price-{lookup}-{meter.id}"},
    )
    return price.id


# --- checkout, portal, subscriptions ----------------------------------------------------------


def create_checkout_session(
    *,
    customer_id: str,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    plan,
    trial_days: int,
    success_url: str,
    cancel_url: str,
    window: str,
) -> dict[str, Any]:
    """Checkout in subscription mode: the plan's price and the metered overage price (both
    made when the plan was saved: nothing is created here), with a trial of `trial_days`
    (0: none). `window` (e.g. the current ten minutes) makes a
    double click reuse one session. The person starting it is on the subscription's
    metadata: who had the trial (billing.trials)."""
    meta = {"tenant_id": str(tenant_id), "plan_id": str(plan.id), "user_id": str(user_id)}
    params: dict[str, Any] = {
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": str(tenant_id),
        "line_items": [
            {"price": plan.stripe_price_id, "quantity": 1},
            {"price": plan.stripe_usage_price_id},
        ],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": meta,
        "subscription_data": {"metadata": meta},
    }
    if trial_days:
        params["subscription_data"]["trial_period_days"] = trial_days
    key = f"checkout-{tenant_id}-{user_id}-{plan.id}-{plan.stripe_price_id}-t{trial_days}-{window}"
    return _plain(
        _call(
            "checkout.sessions.create",
            client().v1.checkout.sessions.create,
            params=params,
            options={"idempotency_key": key},
        )
    )


def expire_other_checkout_sessions(customer_id: str, keep: str) -> list[str]:
    """Expire the customer's open Checkout sessions but `keep`: Stripe keeps a session
    payable for 24 hours, so two tabs paid would make two subscriptions. Returns the ids
    expired (one already completed or expired meanwhile is left alone)."""
    page = _call(
        "checkout.sessions.list",
        client().v1.checkout.sessions.list,
        params={"customer": customer_id, "status": "open", "limit": 100},
    )
    expired = []
    for cs in page.data:
        if cs.id == keep:
            continue
        try:
            _call("checkout.sessions.expire", client().v1.checkout.sessions.expire, cs.id)
        except BillingUnavailable as exc:
            if not isinstance(exc.__cause__, stripe.InvalidRequestError):
                raise
            continue  # completed or expired since it was listed
        expired.append(cs.id)
    return expired


def retrieve_checkout_session(session_id: str) -> dict[str, Any]:
    return _plain(
        _call("checkout.sessions.retrieve", client().v1.checkout.sessions.retrieve, session_id)
    )


def create_portal_session(customer_id: str, return_url: str) -> dict[str, Any]:
    return _plain(
        _call(
            "billing_portal.sessions.create",
            client().v1.billing_portal.sessions.create,
            params={"customer": customer_id, "return_url": return_url},
        )
    )


def retrieve_subscription(subscription_id: str) -> dict[str, Any]:
    return _plain(
        _call("subscriptions.retrieve", client().v1.subscriptions.retrieve, subscription_id)
    )


def change_subscription_price(
    subscription_id: str, item_id: str, price_id: str, *, request_id: uuid.UUID
) -> dict[str, Any]:
    """Switch the plan item to another price now, invoicing the prorated difference.
    `request_id` names this switch (one per user action): a retry of the same action
    replays, a later switch to the same price is a new request. Returns the subscription
    as Stripe holds it afterwards (read again, not the update's answer)."""
    _call(
        "subscriptions.update",
        client().v1.subscriptions.update,
        subscription_id,
        params={
            "items": [{"id": item_id, "price": price_id}],
            "proration_behavior": "always_invoice",
        },
        options={"idempotency_key": f"switch-{subscription_id}-{request_id}"},
    )
    return retrieve_subscription(subscription_id)


def end_trial_now(subscription_id: str) -> dict[str, Any]:
    """End a subscription's trial at once: its first paid period starts (and is invoiced)
    now."""
    return _plain(
        _call(
            "subscriptions.update",
            client().v1.subscriptions.update,
            subscription_id,
            params={"trial_end": "now"},
            options={"idempotency_key": f"end-trial-{subscription_id}"},
        )
    )


def set_cancel_at_period_end(subscription_id: str, cancel: bool) -> dict[str, Any]:
    return _plain(
        _call(
            "subscriptions.update",
            client().v1.subscriptions.update,
            subscription_id,
            params={"cancel_at_period_end": cancel},
        )
    )


def cancel_subscription_now(subscription_id: str) -> dict[str, Any]:
    """End a subscription at once (no proration credit); Stripe's copy afterwards."""
    try:
        _call(
            "subscriptions.cancel",
            client().v1.subscriptions.cancel,
            subscription_id,
            options={"idempotency_key": f"cancel-now-{subscription_id}"},
        )
    except BillingUnavailable as exc:
        if not isinstance(exc.__cause__, stripe.InvalidRequestError):
            raise  # already canceled is what we wanted
    return retrieve_subscription(subscription_id)


def refund_first_payment(subscription_id: str) -> list[str]:
    """Refund in full what the subscription's first invoice collected (its payments, since
    2025-03-31.basil listed under /v1/invoice_payments). The refund ids; none when the
    first invoice charged nothing (a trial)."""
    invoices = _call(
        "invoices.list",
        client().v1.invoices.list,
        params={"subscription": subscription_id, "limit": 100},
    )
    first = next((i for i in invoices.data if i.billing_reason == "subscription_create"), None)
    if first is None:
        return []
    payments = _call(
        "invoice_payments.list",
        client().v1.invoice_payments.list,
        params={"invoice": first.id, "limit": 100},
    )
    refunds = []
    for payment in payments.data:
        pi = payment.payment.payment_intent
        pi_id = pi if isinstance(pi, str) else getattr(pi, "id", None)
        if payment.status != "paid" or not pi_id:
            continue
        refund = _call(
            "refunds.create",
            client().v1.refunds.create,
            params={
                "payment_intent": pi_id,
                "reason": "duplicate",
                "metadata": {"subscription": subscription_id},
            },
            options={"idempotency_key": f"refund-duplicate-{pi_id}"},
        )
        refunds.append(refund.id)
    return refunds


def retrieve_invoice(invoice_id: str) -> dict[str, Any]:
    return _plain(_call("invoices.retrieve", client().v1.invoices.retrieve, invoice_id))


def retrieve_payment_method(payment_method_id: str) -> dict[str, Any]:
    return _plain(
        _call("payment_methods.retrieve", client().v1.payment_methods.retrieve, payment_method_id)
    )


FETCHERS = {
    "subscription": retrieve_subscription,
    "invoice": retrieve_invoice,
    "checkout.session": retrieve_checkout_session,
    "payment_method": retrieve_payment_method,
}


def fetch(kind: str, object_id: str) -> dict[str, Any] | None:
    """Stripe's current copy of an object, or None when Stripe has no such object (what
    an event claims about an object Stripe does not know is not to be believed)."""
    try:
        found = FETCHERS[kind](object_id)
    except BillingUnavailable as exc:
        if is_missing(exc):
            return None
        raise
    return None if found.get("deleted") else found


def open_invoices(customer_id: str | None) -> list[dict[str, Any]]:
    """The customer's unpaid invoices (what dunning waits on)."""
    return list_invoices(customer_id, status="open", limit=100) if customer_id else []


def list_invoices(
    customer_id: str, limit: int = 12, status: str | None = None
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"customer": customer_id, "limit": limit}
    if status:
        params["status"] = status
    try:
        page = _call("invoices.list", client().v1.invoices.list, params=params)
    except BillingUnavailable as exc:
        if is_missing(exc):
            return []
        raise
    return [_plain(i) for i in page.data]


# --- usage ------------------------------------------------------------------------------------


def report_meter_event(
    *, customer_id: str, value_cents: int, identifier: str, timestamp: datetime
) -> bool:
    """Send overage as a meter event. False when Stripe already has this identifier (a
    retry of a report that went through): counted once either way."""
    try:
        client().v1.billing.meter_events.create(
            params={
                "event_name": METER_EVENT_NAME,
                "identifier": identifier,
                "timestamp": int(timestamp.timestamp()),
                "payload": {"stripe_customer_id": customer_id, "value": str(value_cents)},
            }
        )
    except stripe.InvalidRequestError as exc:
        if "already exists" in str(getattr(exc, "user_message", "") or exc):
            return False
        raise BillingUnavailable("Billing is not reachable right now.") from exc
    except stripe.StripeError as exc:
        raise BillingUnavailable("Billing is not reachable right now.") from exc
    return True
