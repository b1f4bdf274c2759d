"""Subscriptions: starting one (Checkout), managing it (portal, plan change, cancellation), and
keeping our copy equal to Stripe's.

Our copy is only ever written from the subscription *as Stripe holds it now*: every event
re-fetches it, under the workspace's row lock, so events that arrive late, twice or out of
order all end in Stripe's current state, and two workers never interleave a fetch and a
write for one workspace. `stripe_updated_at` keeps the newest event time applied. An event's
payload is never applied: a subscription Stripe does not know changes nothing.

The workspace follows its newest live subscription: `tenants.plan_id` is that
subscription's plan (NULL with none), dunning starts while Stripe says money is owed
(past_due, unpaid) and clears when it no longer is.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from railsaas.accounts.verification import ensure_verified
from railsaas.billing import dunning, gateway, holds, limits, spend_caps, trials
from railsaas.billing import notify as billing_notify
from railsaas.billing.usage import LIVE_STATUSES
from railsaas.errors import Conflict, NotFound, ValidationFailed
from railsaas.models import Plan, Subscription, Tenant
from railsaas.models.billing import SUBSCRIPTION_DUNNING, SUBSCRIPTION_PAID
from railsaas.permissions import authorize
from railsaas.platform import audit

DUNNING_STATUSES = SUBSCRIPTION_DUNNING
PAID_STATUSES = SUBSCRIPTION_PAID


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def require_owner(workspace) -> None:
    """Changing billing is the owner's (railsaas.permissions: billing.manage)."""
    authorize(workspace, "billing.manage")


def tenant_id_for(session: Session, obj: dict[str, Any]) -> uuid.UUID | None:
    """Whose Stripe object is this: by customer, else by the tenant id we put on it."""
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    if customer:
        found = session.scalar(select(Tenant.id).where(Tenant.stripe_customer_id == customer))
        if found:
            return found
    ref = obj.get("client_reference_id") or (obj.get("metadata") or {}).get("tenant_id")
    try:
        return uuid.UUID(str(ref)) if ref else None
    except ValueError:
        return None


def current(session: Session, tenant_id: uuid.UUID) -> Subscription | None:
    """The newest live subscription (or, with none live, the newest of any status)."""
    subs = list(
        session.scalars(
            select(Subscription)
            .where(Subscription.tenant_id == tenant_id)
            .order_by(Subscription.created_at.desc())
        ).unique()
    )
    live = [s for s in subs if s.status in LIVE_STATUSES]
    return (live or subs or [None])[0]


# --- Stripe's subscription -> our row -------------------------------------------------------


def licensed_item(sub: dict[str, Any]) -> dict[str, Any] | None:
    for item in (sub.get("items") or {}).get("data") or []:
        recurring = (item.get("price") or {}).get("recurring") or {}
        if recurring.get("usage_type", "licensed") == "licensed":
            return item
    return None


def plan_for_price(session: Session, price: dict[str, Any] | None) -> Plan | None:
    if not price:
        return None
    plan_id = (price.get("metadata") or {}).get("plan_id")
    if plan_id:
        try:
            plan = session.get(Plan, uuid.UUID(plan_id))
        except ValueError:
            plan = None
        if plan is not None:
            return plan
    return session.scalar(select(Plan).where(Plan.stripe_price_id == price.get("id")))


def apply(
    session: Session,
    tenant: Tenant,
    sub: dict[str, Any],
    *,
    seen_at: datetime,
    invoice_url: str | None = None,
) -> Subscription:
    """Write Stripe's subscription, as just fetched from Stripe (never an event's payload),
    onto our row and the workspace (caller holds the lock)."""
    row = (
        session.scalars(
            select(Subscription)
            .where(Subscription.stripe_subscription_id == sub["id"])
            .with_for_update(of=Subscription)
        )
        .unique()
        .first()
    )
    if row is None and sub.get("status") in LIVE_STATUSES:
        other = live_row(session, tenant.id)
        if other is not None and other.stripe_subscription_id != sub["id"]:
            sub = _end_duplicate(session, tenant, sub, other)
    if row is None:
        sub = trials.claim(session, tenant, sub)  # one trial per person, customer and card
    created = row is None
    if created:
        row = Subscription(
            tenant_id=tenant.id,
            stripe_subscription_id=sub["id"],
            plan_name="",
            status=sub["status"],
        )
        session.add(row)
    item = licensed_item(sub) or {}
    plan = plan_for_price(session, item.get("price"))
    previous_period = row.current_period_start
    if plan is not None:
        row.plan, row.plan_id = plan, plan.id  # the relationship too: no stale plan object
    row.plan_name = plan.name if plan else (row.plan_name or "Unknown plan")
    row.status = sub["status"]
    row.cancel_at_period_end = bool(sub.get("cancel_at_period_end"))
    row.trial_end = _ts(sub.get("trial_end"))
    row.canceled_at = _ts(sub.get("canceled_at"))
    row.current_period_start = _ts(
        item.get("current_period_start") or sub.get("current_period_start")
    )
    row.current_period_end = _ts(item.get("current_period_end") or sub.get("current_period_end"))
    if row.stripe_updated_at is None or seen_at > row.stripe_updated_at:
        row.stripe_updated_at = seen_at
    if created and row.user_id is None:
        row.user_id = _owner_id(session, tenant.id)
    session.flush()
    _follow(
        session,
        tenant,
        row,
        created=created,
        seen_at=seen_at,
        unpaid=lambda: _unpaid_invoice(sub, seen_at, invoice_url),
        period_changed=previous_period != row.current_period_start,
    )
    return row


def live_row(session: Session, tenant_id: uuid.UUID) -> Subscription | None:
    return (
        session.scalars(
            select(Subscription)
            .where(Subscription.tenant_id == tenant_id, Subscription.status.in_(LIVE_STATUSES))
            .order_by(Subscription.created_at.desc())
            .limit(1)
        )
        .unique()
        .first()
    )


def _end_duplicate(
    session: Session, tenant: Tenant, sub: dict[str, Any], kept: Subscription
) -> dict[str, Any]:
    """A second live subscription for a workspace that has one (two Checkout sessions both
    paid): cancel it at once and refund its first payment; the first one stays. Returns
    the canceled subscription as Stripe now holds it, to be recorded as such."""
    ended = gateway.cancel_subscription_now(sub["id"])
    refunds = gateway.refund_first_payment(sub["id"])
    audit.record(
        session,
        "billing.duplicate_subscription_ended",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        actor_user_id=None,
        actor_type="system",
        details={
            "subscription": sub["id"],
            "kept": kept.stripe_subscription_id,
            "refunds": refunds,
        },
    )
    billing_notify.tell(
        session,
        tenant.id,
        kind="duplicate_subscription_refunded",
        subject="A second subscription was cancelled and refunded",
        body=f"{tenant.name} was subscribed twice (two checkouts were "
        f"paid). The second was cancelled at once and its payment "
        f"refunded; the {kept.plan_name} plan continues.",
    )
    return ended


def _unpaid_invoice(
    sub: dict[str, Any], seen_at: datetime, invoice_url: str | None
) -> tuple[datetime, str | None]:
    """When the money became due and where to pay it, from the subscription's open
    invoice: an old event processed late must not date the failure to its own time."""
    latest = sub.get("latest_invoice")
    if isinstance(latest, dict):
        latest = latest.get("id")
    invoice: dict[str, Any] = {}
    if latest:
        try:
            invoice = gateway.retrieve_invoice(latest)
        except gateway.BillingUnavailable:
            invoice = {}
    if invoice.get("status") != "open":
        return seen_at, invoice_url
    return (
        _ts(invoice.get("created")) or seen_at,
        invoice_url or invoice.get("hosted_invoice_url"),
    )


def _owner_id(session: Session, tenant_id: uuid.UUID) -> uuid.UUID | None:
    owners = billing_notify.owners(session, tenant_id)
    return owners[0].id if owners else None


def _follow(
    session: Session,
    tenant: Tenant,
    row: Subscription,
    *,
    created: bool,
    seen_at: datetime,
    unpaid: Callable[[], tuple[datetime, str | None]],
    period_changed: bool,
) -> None:
    """The workspace follows its newest live subscription."""

    live = (
        session.scalars(
            select(Subscription)
            .where(Subscription.tenant_id == tenant.id, Subscription.status.in_(LIVE_STATUSES))
            .order_by(Subscription.created_at.desc())
            .limit(1)
        )
        .unique()
        .first()
    )
    before_plan = tenant.plan_id
    # The relationship too, so the caller's tenant shows the new plan without a reload.
    tenant.plan = live.plan if live is not None else None
    tenant.plan_id = live.plan_id if live is not None else None
    if live is not None and live.status in DUNNING_STATUSES and tenant.payment_failed_at is None:
        failed_at, url = unpaid()
        dunning.enter(session, tenant, failed_at, url)
    elif live is not None and live.status in PAID_STATUSES:
        dunning.clear(session, tenant)
    plan_changed = before_plan != tenant.plan_id
    if created and row.status in LIVE_STATUSES:
        audit.record(
            session,
            "billing.subscription_started",
            target_type="subscription",
            target_id=row.id,
            tenant_id=tenant.id,
            actor_user_id=None,
            actor_type="system",
            details={"plan": row.plan_name, "status": row.status},
        )
        billing_notify.tell(
            session,
            tenant.id,
            kind="subscription_started",
            subject=f"Welcome to {row.plan_name}",
            body=f"{tenant.name} is now on the {row.plan_name} plan.",
        )
    elif plan_changed and tenant.plan_id is None:
        audit.record(
            session,
            "billing.subscription_ended",
            target_type="subscription",
            target_id=row.id,
            tenant_id=tenant.id,
            actor_user_id=None,
            actor_type="system",
            details={"plan": row.plan_name},
        )
        billing_notify.tell(
            session,
            tenant.id,
            kind="subscription_ended",
            subject="Your subscription has ended",
            body=f"The subscription of {tenant.name} has ended and its "
            "instances are stopped. Subscribe again to start them.",
        )
    elif plan_changed and before_plan is not None:
        audit.record(
            session,
            "billing.plan_changed",
            target_type="subscription",
            target_id=row.id,
            tenant_id=tenant.id,
            actor_user_id=None,
            actor_type="system",
            details={"plan": row.plan_name},
        )
        billing_notify.tell(
            session,
            tenant.id,
            kind="plan_changed",
            subject=f"Your plan is now {row.plan_name}",
            body=f"{tenant.name} is now on the {row.plan_name} plan.",
        )
    if plan_changed:
        holds.reconcile(session, tenant)
        limits.evaluate(session, tenant, seen_at)  # a downgrade's grace period starts
    if plan_changed or period_changed:
        spend_caps.evaluate_tenant(session, tenant, seen_at)


def sync(
    session: Session,
    tenant: Tenant,
    subscription_id: str,
    *,
    seen_at: datetime,
    invoice_url: str | None = None,
) -> Subscription | None:
    """Re-fetch the subscription from Stripe and apply it (caller holds the tenant lock).
    None, and nothing changed, when Stripe does not know it."""
    sub = gateway.fetch("subscription", subscription_id)
    if sub is None:
        return None
    return apply(session, tenant, sub, seen_at=seen_at, invoice_url=invoice_url)


# --- starting and managing ------------------------------------------------------------------


def _plan_for_checkout(session: Session, plan_id: Any) -> Plan:
    try:
        plan = session.get(Plan, uuid.UUID(str(plan_id)))
    except ValueError:
        plan = None
    if plan is None or not plan.is_active:
        raise ValidationFailed(
            "Choose one of the plans on offer.", details={"plan_id": "not an available plan"}
        )
    if not plan.stripe_price_id or not plan.stripe_usage_price_id:
        raise Conflict("This plan cannot be bought yet: it has no Stripe price.")
    return plan


def start_checkout(
    session: Session,
    workspace,
    user,
    plan_id: Any,
    *,
    success_url: str,
    cancel_url: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A Checkout session for the workspace's customer; {"id", "url"} to send the owner to.
    The owner's (billing.manage); the workspace row is locked. Paying needs a confirmed
    address (accounts.verification)."""
    require_owner(workspace)
    ensure_verified(user)
    tenant = holds.lock_tenant(session, workspace.id)
    plan = _plan_for_checkout(session, plan_id)
    existing = current(session, tenant.id)
    if existing is not None and existing.status in LIVE_STATUSES:
        raise Conflict(
            "This workspace already has a subscription. Change plans from the billing page.",
            code="already_subscribed",
        )
    customer_id = gateway.ensure_customer(session, tenant, email=user.email, name=tenant.name)
    now = now or datetime.now(UTC)
    window = now.strftime("%Y%m%d%H") + str(now.minute // 10)
    trial_days = (
        plan.trial_days if plan.trial_days and trials.offered(session, tenant, user.id) else 0
    )
    cs = gateway.create_checkout_session(
        customer_id=customer_id,
        tenant_id=tenant.id,
        user_id=user.id,
        plan=plan,
        trial_days=trial_days,
        success_url=success_url,
        cancel_url=cancel_url,
        window=window,
    )
    # One payable session per workspace: an older one left open in another tab would make
    # a second subscription if paid (it stays open 24 hours).
    expired = gateway.expire_other_checkout_sessions(customer_id, keep=cs["id"])
    audit.record(
        session,
        "billing.checkout_started",
        target_type="plan",
        target_id=plan.id,
        details={
            "plan": plan.name,
            "checkout_session": cs["id"],
            "trial_days": trial_days,
            "expired_sessions": expired,
        },
    )
    return {"id": cs["id"], "url": cs["url"]}


def finish_checkout(
    session: Session, tenant_id: uuid.UUID, checkout_session_id: str
) -> Subscription | None:
    """The success page: apply the new subscription now rather than wait for its webhook
    (both paths take the same lock and write the same state)."""
    if not checkout_session_id or not checkout_session_id.startswith("cs_"):
        raise NotFound("No such checkout.")
    cs = gateway.retrieve_checkout_session(checkout_session_id)
    tenant = holds.lock_tenant(session, tenant_id)
    if tenant is None or tenant_id_for(session, cs) != tenant.id:
        raise NotFound("No such checkout.")
    if cs.get("status") != "complete" or not cs.get("subscription"):
        return None
    sub_id = cs["subscription"] if isinstance(cs["subscription"], str) else cs["subscription"]["id"]
    return sync(session, tenant, sub_id, seen_at=gateway.now())


def open_portal(session: Session, workspace, user, return_url: str) -> str:
    """Stripe's customer portal, for the owner (billing.manage); the workspace row is locked.
    The portal changes payment methods and plans: a confirmed address is needed."""
    require_owner(workspace)
    ensure_verified(user)
    tenant = holds.lock_tenant(session, workspace.id)
    customer_id = gateway.ensure_customer(session, tenant, email=user.email, name=tenant.name)
    portal = gateway.create_portal_session(customer_id, return_url)
    audit.record(session, "billing.portal_opened", target_type="tenant", target_id=tenant.id)
    return portal["url"]


def change_plan(session: Session, workspace, plan_id: Any, *, user) -> Subscription:
    """Switch the live subscription to another plan now, with a prorated invoice (the
    owner's: billing.manage). `user`, who asks, must have confirmed their address
    (accounts.verification)."""
    require_owner(workspace)
    ensure_verified(user)
    tenant_id = workspace.id
    tenant = holds.lock_tenant(session, tenant_id)
    row = current(session, tenant_id)
    if tenant is None or row is None or row.status not in LIVE_STATUSES:
        raise Conflict(
            "This workspace has no subscription to change. Subscribe first.", code="no_subscription"
        )
    plan = _plan_for_checkout(session, plan_id)
    if row.plan_id == plan.id:
        return row
    if row.plan is not None and row.plan.interval != plan.interval:
        raise ValidationFailed(
            "Monthly and yearly plans cannot be swapped in place; cancel and subscribe again.",
            details={"plan_id": "has another billing interval"},
        )
    sub = gateway.retrieve_subscription(row.stripe_subscription_id)
    item = licensed_item(sub)
    if item is None:
        raise Conflict("This subscription has no plan item to change.")
    # One id per switch: A->B->A->B within Stripe's 24 hours of idempotency must be four
    # requests, not two replayed (gateway docstring).
    request_id = uuid.uuid4()
    updated = gateway.change_subscription_price(
        sub["id"], item["id"], plan.stripe_price_id, request_id=request_id
    )
    audit.record(
        session,
        "billing.plan_change_requested",
        target_type="subscription",
        target_id=row.id,
        details={"from": row.plan_name, "to": plan.name, "request_id": str(request_id)},
    )
    return apply(session, tenant, updated, seen_at=gateway.now())


def set_cancel_at_period_end(session: Session, workspace, cancel: bool) -> Subscription:
    """Cancel at the period's end, or undo that (the owner's: billing.manage)."""
    require_owner(workspace)
    tenant_id = workspace.id
    tenant = holds.lock_tenant(session, tenant_id)
    row = current(session, tenant_id)
    if tenant is None or row is None or row.status not in LIVE_STATUSES:
        raise Conflict("This workspace has no subscription.", code="no_subscription")
    updated = gateway.set_cancel_at_period_end(row.stripe_subscription_id, cancel)
    audit.record(
        session,
        "billing.cancel_requested" if cancel else "billing.cancel_withdrawn",
        target_type="subscription",
        target_id=row.id,
    )
    return apply(session, tenant, updated, seen_at=gateway.now())


def subscription_dict(tenant: Tenant, row: Subscription | None) -> dict[str, Any]:
    plan = tenant.plan
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return {
        "plan": None
        if plan is None
        else {
            "id": str(plan.id),
            "name": plan.name,
            "slug": plan.slug,
            "price_cents": plan.price_cents,
            "currency": plan.currency,
            "interval": plan.interval,
            "max_instances": plan.max_instances,
            "allowed_tiers": list(plan.allowed_tiers),
            "included_usage_cents": plan.included_usage_cents,
        },
        "subscription": None
        if row is None
        else {
            "id": str(row.id),
            "status": row.status,
            "plan_name": row.plan_name,
            "current_period_start": iso(row.current_period_start),
            "current_period_end": iso(row.current_period_end),
            "cancel_at_period_end": row.cancel_at_period_end,
            "trial_end": iso(row.trial_end),
            "canceled_at": iso(row.canceled_at),
        },
        "payment_failed_at": iso(tenant.payment_failed_at),
        "dunning_stage": tenant.dunning_stage,
        "spend_cap_state": tenant.spend_cap_state,
    }
