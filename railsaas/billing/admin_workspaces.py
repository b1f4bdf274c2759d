"""The admin panel's workspaces: each with its plan, status, instances, usage this month and
spend cap, and the admin's levers (spend cap, suspend, reactivate). Callers run as
the admin login (context role 'platform_admin', docs/security.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from railsaas.billing import costs, holds, spend_caps, usage
from railsaas.errors import Conflict, NotFound, ValidationFailed
from railsaas.instances import lifecycle as instances
from railsaas.models import Instance, Membership, Subscription, Tenant, User
from railsaas.models.instance import ACTIVE as ACTIVE_STATUSES
from railsaas.platform import audit


@dataclass(frozen=True)
class WorkspaceRow:
    tenant: Tenant
    members: int
    live_instances: int
    active_instances: int
    subscription_status: str | None
    spend_cents: int  # usage this calendar month, as billed (marked up)

    @property
    def cap_cents(self) -> int | None:
        return spend_caps.cap_cents(self.tenant)


def _latest_subscription():
    ranked = select(
        Subscription.tenant_id,
        Subscription.status,
        func.row_number()
        .over(partition_by=Subscription.tenant_id, order_by=Subscription.created_at.desc())
        .label("rank"),
    ).subquery()
    return select(ranked.c.tenant_id, ranked.c.status).where(ranked.c.rank == 1).subquery()


def search(
    session: Session,
    q: str = "",
    status: str = "",
    *,
    markup_percent: int,
    offset: int = 0,
    limit: int = 50,
    now: datetime | None = None,
) -> list[WorkspaceRow]:
    """Workspaces matching `q` (name or slug) and status, with their figures: one query."""
    period = usage.month_of(now or datetime.now(UTC))
    members = (
        select(Membership.tenant_id, func.count().label("n"))
        .group_by(Membership.tenant_id)
        .subquery()
    )
    inst = (
        select(
            Instance.tenant_id,
            func.count().label("live"),
            func.count().filter(Instance.status.in_(ACTIVE_STATUSES)).label("active"),
        )
        .where(Instance.status != "deleted")
        .group_by(Instance.tenant_id)
        .subquery()
    )
    spend = costs.tenant_costs(period.start_day, period.end_day).subquery()
    sub = _latest_subscription()
    stmt = (
        select(
            Tenant,
            func.coalesce(members.c.n, 0),
            func.coalesce(inst.c.live, 0),
            func.coalesce(inst.c.active, 0),
            sub.c.status,
            func.coalesce(spend.c.cost_cents, 0),
        )
        .outerjoin(members, members.c.tenant_id == Tenant.id)
        .outerjoin(inst, inst.c.tenant_id == Tenant.id)
        .outerjoin(spend, spend.c.tenant_id == Tenant.id)
        .outerjoin(sub, sub.c.tenant_id == Tenant.id)
        .order_by(Tenant.created_at.desc(), Tenant.id)
        .offset(offset)
        .limit(limit)
    )
    q = q.strip()
    if q:
        stmt = stmt.where(
            or_(
                func.lower(Tenant.name).contains(q.lower(), autoescape=True),
                func.lower(Tenant.slug).contains(q.lower(), autoescape=True),
            )
        )
    if status in ("active", "suspended", "deleted"):
        stmt = stmt.where(Tenant.status == status)
    elif status == "over_cap":
        stmt = stmt.where(Tenant.spend_cap_state != "ok")
    return [
        WorkspaceRow(t, m, live, active, s, usage.price_cents(cost, markup_percent))
        for t, m, live, active, s, cost in session.execute(stmt).unique().all()
    ]


def get(session: Session, tenant_id: uuid.UUID) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("No such workspace.")
    return tenant


def members_of(session: Session, tenant_id: uuid.UUID) -> list[tuple[User, str]]:
    return list(
        session.execute(
            select(User, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant_id)
            .order_by(Membership.role, User.email)
        ).all()
    )


def instances_of(session: Session, tenant_id: uuid.UUID) -> list[Instance]:
    return list(
        session.scalars(
            select(Instance)
            .where(Instance.tenant_id == tenant_id, Instance.status != "deleted")
            .order_by(Instance.created_at.desc())
        ).unique()
    )


def subscriptions_of(session: Session, tenant_id: uuid.UUID) -> list[Subscription]:
    return list(
        session.scalars(
            select(Subscription)
            .where(Subscription.tenant_id == tenant_id)
            .order_by(Subscription.created_at.desc())
        ).unique()
    )


def set_spend_cap(session: Session, tenant_id: uuid.UUID, cap_cents: int | None) -> Tenant:
    """An admin override of the workspace's spend cap (None: the plan's default), applied
    at once like the owner's (billing's spend_caps.set_cap)."""
    tenant = get(session, tenant_id)
    spend_caps.set_cap(
        session, tenant, cap_cents, datetime.now(UTC), action="admin.workspace_spend_cap"
    )
    return tenant


def suspend(session: Session, tenant_id: uuid.UUID, reason: str) -> Tenant:
    """Suspend the workspace: its instances stop (through the lifecycle service)."""
    reason = " ".join((reason or "").split())[:200]
    if not reason:
        raise ValidationFailed("Say why.", details={"reason": "required"})
    tenant = get(session, tenant_id)
    if tenant.status == "deleted":
        raise Conflict("This workspace is deleted.")
    if tenant.status == "suspended":
        return tenant
    tenant.status = "suspended"
    tenant.suspended_at = datetime.now(UTC)
    tenant.suspended_reason = "admin"
    stopped = instances.suspend_tenant_instances(session, tenant.id, "admin")
    audit.record(
        session,
        "admin.workspace_suspend",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        details={"reason": reason, "instances": stopped},
    )
    session.flush()
    return tenant


def reactivate(session: Session, tenant_id: uuid.UUID) -> Tenant:
    tenant = get(session, tenant_id)
    if tenant.status != "suspended":
        return tenant
    tenant.status = "active"
    tenant.suspended_at = None
    tenant.suspended_reason = None
    # Only what nothing else holds starts again: billing's holds outlast the admin's.
    outcome, n = holds.reconcile(session, tenant)
    resumed = n if outcome == "resumed" else 0
    audit.record(
        session,
        "admin.workspace_reactivate",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        details={"instances": resumed},
    )
    session.flush()
    return tenant
