"""Billing's one doorway into the instance lifecycle (railsaas.services.instances).

Every call billing makes to lifecycle goes through here, by the names the brief fixes:
`suspend_tenant_instances`, `resume_tenant_instances`, `delete_tenant_instances` and
`stop_instances`. Lifecycle owns what they do on Railway.

Also here: the billing *hold* on a workspace. Three things hold its instances stopped:
dunning past the grace period, a spend cap reached, a subscription that ended. `reconcile`
suspends when any holds and resumes when none does, unless an admin suspended the workspace
(tenants.status), which is the admin's to lift.
"""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from railsaas.models import Subscription, Tenant
from railsaas.services import instances

ENDED_STATUSES = ("canceled", "incomplete_expired")


# --- the four calls ---------------------------------------------------------------------------

def suspend(session: Session, tenant_id: uuid.UUID, reason: str) -> int:
    return instances.suspend_tenant_instances(session, tenant_id, reason)


def resume(session: Session, tenant_id: uuid.UUID) -> int:
    return instances.resume_tenant_instances(session, tenant_id)


def delete_all(session: Session, tenant_id: uuid.UUID, reason: str) -> int:
    return instances.delete_tenant_instances(session, tenant_id, reason)


def stop(session: Session, tenant_id: uuid.UUID, instance_ids: list[uuid.UUID],
         reason: str) -> int:
    return instances.stop_instances(session, tenant_id, instance_ids, reason)


# --- the billing hold -------------------------------------------------------------------------

def hold_reason(session: Session, tenant: Tenant) -> str | None:
    """Why billing keeps this workspace's instances stopped, or None."""
    if tenant.dunning_stage in ("suspended", "deleted"):
        return "payment_failed"
    if tenant.spend_cap_state == "capped":
        return "spend_cap"
    if tenant.plan_id is None and subscription_ended(session, tenant.id):
        return "subscription_ended"
    return None


def subscription_ended(session: Session, tenant_id: uuid.UUID) -> bool:
    """The workspace subscribed once and has no live subscription now."""
    had = session.scalar(select(exists().where(Subscription.tenant_id == tenant_id)))
    live = session.scalar(select(exists().where(
        Subscription.tenant_id == tenant_id, Subscription.status.notin_(ENDED_STATUSES),
        Subscription.status != "incomplete")))
    return bool(had and not live)


def reconcile(session: Session, tenant: Tenant) -> tuple[str, int]:
    """Make the instances agree with the hold: ('suspended', n), ('resumed', n) or
    ('unchanged', 0). Call it after any change to what holds a workspace."""
    reason = hold_reason(session, tenant)
    if reason is not None:
        n = suspend(session, tenant.id, reason)
        return ("suspended", n) if n else ("unchanged", 0)
    if tenant.status != "active":
        return "unchanged", 0  # an admin's suspension: the admin lifts it
    n = resume(session, tenant.id)
    return ("resumed", n) if n else ("unchanged", 0)
