"""One free trial per person, per Stripe customer and per card.

Trials come from a plan's `trial_days` (admins set it), sent to Checkout as the subscription's
`trial_period_days`. Without a rule, anyone could take a trial per workspace, for ever.

- `offered`: Checkout offers the trial only to a person who never had one (trial_claims),
  for a workspace that never had one (a subscription of ours with a trial end: its
  customer). The pricing and billing pages say so before checkout.
- `claim`: when a new subscription in a trial appears (subscriptions.apply), a claim is
  written for the person who started checkout (the subscription's metadata.user_id, set by
  us), its customer and its card (payment_method.card.fingerprint, where Stripe gives one).
  Each is unique: if any of them had a trial already (two checkouts started at once, or
  one card behind several accounts), the trial is ended at Stripe at once (trial_end=now)
  and the subscription is paid from today.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import exists, or_, select, text
from sqlalchemy.orm import Session

from railsaas.billing import gateway
from railsaas.models import Subscription, Tenant, TrialClaim
from railsaas.platform import audit


def offered(session: Session, tenant: Tenant, user_id: uuid.UUID | None) -> bool:
    """May a checkout started by this person for this workspace come with a trial?"""
    had = exists().where(Subscription.tenant_id == tenant.id, Subscription.trial_end.isnot(None))
    if user_id is not None:
        had = or_(had, exists().where(TrialClaim.user_id == user_id))
    return not session.scalar(select(had))


def _fingerprint(sub: dict[str, Any]) -> str | None:
    pm = sub.get("default_payment_method")
    if isinstance(pm, dict):
        pm = pm.get("id")
    if not pm:
        return None
    found = gateway.fetch("payment_method", pm)
    return ((found or {}).get("card") or {}).get("fingerprint") or None


def _user_id(sub: dict[str, Any]) -> uuid.UUID | None:
    try:
        raw = (sub.get("metadata") or {}).get("user_id")
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


def claim(session: Session, tenant: Tenant, sub: dict[str, Any]) -> dict[str, Any]:
    """A new subscription in a trial (as Stripe returned it): claim the trial, or end it
    now if the person, customer or card had one. Returns the subscription as it now is."""
    if sub.get("status") != "trialing":
        return sub
    customer = sub.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    fingerprint = _fingerprint(sub)
    # Claims are a person's rows, not the workspace's, and the web login sees only its own
    # (the success page applies a new subscription in the owner's request): a SECURITY
    # DEFINER function checks them all and records this one (sql/rls_policies.sql).
    claimed = session.scalar(
        text("SELECT billing_claim_trial(:sub, :user_id, :customer, :card)"),
        {"sub": sub["id"], "user_id": _user_id(sub), "customer": customer, "card": fingerprint},
    )
    if claimed:
        return sub
    audit.record(
        session,
        "billing.trial_refused",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        actor_user_id=None,
        actor_type="system",
        details={"subscription": sub["id"]},
    )
    return gateway.end_trial_now(sub["id"])
