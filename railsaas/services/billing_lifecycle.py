"""Billing's one doorway into the instance lifecycle (railsaas.services.instances).

Every call billing makes to lifecycle goes through here, by the names the brief fixes:
`suspend_tenant_instances`, `resume_tenant_instances`, `delete_tenant_instances` and
`stop_instances`. Lifecycle owns what they do on Railway.

Until lifecycle provides one of them, a stand-in below changes the rows the same way (status,
reason, audit) without touching Railway, so billing's rules can be built and tested; each
stand-in gives way to the real function as soon as it exists.

Also here: the billing *hold* on a workspace. Three things hold its instances stopped:
dunning past the grace period, a spend cap reached, a subscription that ended. `reconcile`
suspends when any holds and resumes when none does, unless an admin suspended the workspace
(tenants.status), which is the admin's to lift.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from railsaas.models import Instance, Subscription, Tenant
from railsaas.services import audit

# Statuses a suspension stops, as lifecycle defines them (a customer's own stop is left).
_SUSPENDABLE = ("running", "crashed", "deploying", "redeploying", "starting", "stopping")
_STOPPABLE = _SUSPENDABLE + ("requested", "provisioning", "failed", "suspended")

ENDED_STATUSES = ("canceled", "incomplete_expired")


def _lifecycle(name: str):
    try:
        from railsaas.services import instances
    except ImportError:
        return None
    return getattr(instances, name, None)


# --- the four calls ---------------------------------------------------------------------------

def suspend(session: Session, tenant_id: uuid.UUID, reason: str) -> int:
    real = _lifecycle("suspend_tenant_instances")
    if real is not None:
        return real(session, tenant_id, reason)
    return _set_status(session, tenant_id, None, _SUSPENDABLE, "suspended", reason,
                       "instance.suspend_all")


def resume(session: Session, tenant_id: uuid.UUID) -> int:
    real = _lifecycle("resume_tenant_instances")
    if real is not None:
        return real(session, tenant_id)
    return _set_status(session, tenant_id, None, ("suspended",), "starting", "resumed",
                       "instance.resume_all")


def delete_all(session: Session, tenant_id: uuid.UUID, reason: str) -> int:
    real = _lifecycle("delete_tenant_instances")
    if real is not None:
        return real(session, tenant_id, reason)
    return _set_status(session, tenant_id, None, None, "deleting", reason,
                       "instance.delete_all")


def stop(session: Session, tenant_id: uuid.UUID, instance_ids: list[uuid.UUID],
         reason: str) -> int:
    real = _lifecycle("stop_instances")
    if real is not None:
        return real(session, tenant_id, instance_ids, reason)
    return _set_status(session, tenant_id, instance_ids, _STOPPABLE, "stopping", reason,
                       "instance.stop_many")


def _set_status(session: Session, tenant_id: uuid.UUID, ids: list[uuid.UUID] | None,
                from_statuses: tuple[str, ...] | None, to: str, reason: str,
                action: str) -> int:
    """Stand-in for a lifecycle function that has not landed: the rows only."""
    stmt = select(Instance).where(Instance.tenant_id == tenant_id)
    stmt = stmt.where(Instance.status.notin_(("deleted", "deleting")))
    if from_statuses is not None:
        stmt = stmt.where(Instance.status.in_(from_statuses))
    if ids is not None:
        stmt = stmt.where(Instance.id.in_(ids))
    count = 0
    for inst in session.scalars(stmt.with_for_update(of=Instance)).unique():
        inst.status, inst.status_reason = to, reason
        inst.status_changed_at = datetime.now(UTC)
        count += 1
    if count:
        audit.record(session, action, target_type="tenant", target_id=tenant_id,
                     tenant_id=tenant_id, details={"reason": reason, "count": count})
    session.flush()
    return count


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
