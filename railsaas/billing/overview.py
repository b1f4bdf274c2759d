"""What a workspace's members may read about its bill: the billing page's summary, the
subscription, this period's usage and the invoices. Each read checks `billing.view` itself,
so the page, its fragments and the API cannot drift apart on who may see it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from railsaas.billing import (
    forecast,
    gateway,
    limits,
    plans,
    spend_caps,
    subscriptions,
    trials,
    usage,
)
from railsaas.instances import admission
from railsaas.models.billing import SUBSCRIPTION_ENDED, SUBSCRIPTION_PENDING
from railsaas.permissions import HasRole, authorize, can


def summary(
    session: Session,
    workspace: HasRole,
    *,
    now: datetime,
    markup_percent: int,
    user_id: uuid.UUID | None,
) -> dict[str, Any]:
    """The billing page: plan, subscription, usage this period, the fee and cap, whether a
    trial is offered to this person, and whether the caller may change any of it."""
    authorize(workspace, "billing.view")
    tenant = workspace.tenant
    plan = tenant.plan
    row = subscriptions.current(session, tenant.id)
    period = usage.period_of(row, now)  # row is the newest live one when there is one
    used = usage.tenant_usage(
        session,
        tenant.id,
        period,
        markup_percent=markup_percent,
        included_cents=plan.included_usage_cents if plan else 0,
    )
    cap = spend_caps.cap_cents(tenant)
    offered = plans.active_plans(session)
    can_subscribe = row is None or row.status in SUBSCRIPTION_ENDED + SUBSCRIPTION_PENDING
    fee = (
        plan.price_cents
        if plan is not None and row is not None and row.status in usage.LIVE_STATUSES
        else 0
    )
    return {
        "tenant": tenant,
        "plan": plan,
        "subscription": row,
        "usage": used,
        "markup": markup_percent,
        "cap_cents": cap,
        "fee_cents": fee,
        "estimate_cents": fee + used.overage_cents,
        "forecast": forecast.forecast(
            spend_cents=used.spend_cents,
            period=period,
            now=now,
            fee_cents=fee,
            included_cents=used.included_cents,
            cap_cents=cap,
        ),
        "cap_percent": min(100, round(100 * used.spend_cents / cap)) if cap else None,
        "over": admission.over_limit(session, tenant),
        "plans": offered,
        # Asked only when the page offers a plan with a trial (one query fewer otherwise).
        "trial_offered": trials.offered(session, tenant, user_id)
        if can_subscribe and any(p.trial_days for p in offered)
        else True,
        "over_deadline": limits.deadline(tenant),
        "is_owner": can(workspace, "billing.manage"),
        "display_quantity": usage.display_quantity,
        "min_cap": spend_caps.MIN_CAP_CENTS // 100,
        "max_cap": spend_caps.MAX_CAP_CENTS // 100,
    }


def subscription(session: Session, workspace: HasRole) -> dict[str, Any]:
    """The plan, subscription, dunning state and spend cap (the API's shape)."""
    authorize(workspace, "billing.view")
    tenant = workspace.tenant
    data = subscriptions.subscription_dict(tenant, subscriptions.current(session, tenant.id))
    data["spend_cap_cents"] = spend_caps.cap_cents(tenant)
    return data


def current_usage(
    session: Session, workspace: HasRole, *, now: datetime, markup_percent: int
) -> dict[str, Any]:
    """This period's usage and cost, in total and per instance, with the spend cap."""
    authorize(workspace, "billing.view")
    tenant = workspace.tenant
    plan = tenant.plan
    period = usage.current_period(session, tenant.id, now)
    data = usage.usage_dict(
        usage.tenant_usage(
            session,
            tenant.id,
            period,
            markup_percent=markup_percent,
            included_cents=plan.included_usage_cents if plan else 0,
        )
    )
    data["spend_cap_cents"] = spend_caps.cap_cents(tenant)
    return data


def invoices(workspace: HasRole, limit: int | None = None) -> list[dict[str, Any]]:
    """The workspace's invoices as Stripe holds them, newest first (none before its first
    checkout). Raises gateway.BillingUnavailable when Stripe does not answer."""
    authorize(workspace, "billing.view")
    customer = workspace.tenant.stripe_customer_id
    if not customer:
        return []
    return (
        gateway.list_invoices(customer, limit=limit) if limit else gateway.list_invoices(customer)
    )


def service_period(invoice: dict[str, Any]) -> tuple[int | None, int | None]:
    """The period an invoice's plan line pays for (Unix times). Stripe's own
    `period_start`/`period_end` on an invoice are when its usage accrued: the *previous*
    period for a renewal, a single instant for the first invoice. The service period is on
    the lines; usage lines (in arrears) and prorations are passed over when a plan line
    exists."""
    lines = (invoice.get("lines") or {}).get("data") or []

    def plan_line(line: dict[str, Any]) -> bool:
        details = (line.get("parent") or {}).get("subscription_item_details") or {}
        return not details.get("proration") and "(usage:" not in (line.get("description") or "")

    chosen = [ln for ln in lines if plan_line(ln)] or lines
    periods = [ln.get("period") or {} for ln in chosen]
    starts = [p["start"] for p in periods if p.get("start")]
    ends = [p["end"] for p in periods if p.get("end")]
    if not starts or not ends:
        return invoice.get("period_start"), invoice.get("period_end")
    return min(starts), max(ends)
