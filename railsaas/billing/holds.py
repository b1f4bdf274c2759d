"""The billing hold on a workspace, and making its instances agree with it.

Three things hold a workspace's instances stopped: dunning past the grace period, a spend
cap reached, a subscription that ended (`instances.admission.hold_reason` reads them from
the workspace row); an admin's suspension (tenants.status) holds them too, and is the
admin's to lift. `reconcile` suspends when anything holds and resumes when nothing does.

A hold is enforced on every evaluation, not only when it begins: `enforce_all` (run by the
spend-cap sweep and the dunning job) suspends whatever runs in a held workspace, such as an
instance that was starting while the hold was set.

`lock_tenant` is how every billing change to one workspace queues up behind the others.
"""

from __future__ import annotations

import uuid

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from railsaas.instances import admission, lifecycle
from railsaas.models import Instance, Tenant


def lock_tenant(session: Session, tenant_id: uuid.UUID) -> Tenant | None:
    """The workspace row, locked until commit: billing changes to one workspace queue up.
    Re-read under the lock (populate_existing), so decisions use the committed state."""
    return (
        session.scalars(
            select(Tenant)
            .where(Tenant.id == tenant_id)
            .with_for_update(of=Tenant)
            .execution_options(populate_existing=True)
        )
        .unique()
        .first()
    )


def reconcile(session: Session, tenant: Tenant) -> tuple[str, int]:
    """Make the instances agree with the hold: ('suspended', n), ('resumed', n) or
    ('unchanged', 0). Call it after any change to what holds a workspace."""
    reason = admission.hold_reason(session, tenant) or (
        "admin" if tenant.status != "active" else None
    )
    if reason is not None:
        n = lifecycle.suspend_tenant_instances(session, tenant.id, reason)
        return ("suspended", n) if n else ("unchanged", 0)
    n = lifecycle.resume_tenant_instances(session, tenant.id)
    return ("resumed", n) if n else ("unchanged", 0)


def enforce_all(session: Session) -> dict:
    """Suspend what runs in any held workspace (each locked and re-checked first).
    Returns {tenant_id: instances suspended} for the workspaces that had some."""
    maybe_held = or_(
        Tenant.status != "active",
        Tenant.dunning_stage.in_(("suspended", "deleted")),
        Tenant.spend_cap_state == "capped",
        Tenant.plan_id.is_(None),
    )
    live = exists().where(
        Instance.tenant_id == Tenant.id, Instance.status.in_(lifecycle.SUSPENDABLE)
    )
    suspended = {}
    for tenant_id in list(
        session.scalars(select(Tenant.id).where(maybe_held, live).order_by(Tenant.id))
    ):
        tenant = lock_tenant(session, tenant_id)
        if tenant is None or (
            admission.hold_reason(session, tenant) is None and tenant.status == "active"
        ):
            continue  # no plan but never subscribed, or the hold lifted meanwhile
        outcome, n = reconcile(session, tenant)
        if outcome == "suspended":
            suspended[tenant_id] = n
    return suspended
