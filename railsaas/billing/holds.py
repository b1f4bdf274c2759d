"""The billing hold on a workspace, and making its instances agree with it.

Three things hold a workspace's instances stopped: dunning past the grace period, a spend
cap reached, a subscription that ended (`instances.admission.hold_reason` reads them from
the workspace row). `reconcile` suspends when any holds and resumes when none does, unless
an admin suspended the workspace (tenants.status), which is the admin's to lift.

`lock_tenant` is how every billing change to one workspace queues up behind the others.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from railsaas.instances import admission, lifecycle
from railsaas.models import Tenant


def lock_tenant(session: Session, tenant_id: uuid.UUID) -> Tenant | None:
    """The workspace row, locked until commit: billing changes to one workspace queue up.
    Re-read under the lock (populate_existing), so decisions use the committed state."""
    return session.scalars(select(Tenant).where(Tenant.id == tenant_id)
                           .with_for_update(of=Tenant)
                           .execution_options(populate_existing=True)).unique().first()


def reconcile(session: Session, tenant: Tenant) -> tuple[str, int]:
    """Make the instances agree with the hold: ('suspended', n), ('resumed', n) or
    ('unchanged', 0). Call it after any change to what holds a workspace."""
    reason = admission.hold_reason(session, tenant)
    if reason is not None:
        n = lifecycle.suspend_tenant_instances(session, tenant.id, reason)
        return ("suspended", n) if n else ("unchanged", 0)
    if tenant.status != "active":
        return "unchanged", 0  # an admin's suspension: the admin lifts it
    n = lifecycle.resume_tenant_instances(session, tenant.id)
    return ("resumed", n) if n else ("unchanged", 0)
