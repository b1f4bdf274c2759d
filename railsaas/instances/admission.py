"""What a workspace may run: its billing hold and its plan's limits, checked before anything
is created or started (every entry point reaches these through `instances.lifecycle`).

- A hold stops everything new: an admin's suspension (tenants.status), dunning past the
  grace period, a spend cap reached, a subscription that ended. Billing sets the facts on
  the workspace row; this module only reads them, so lifecycle never imports billing.
- The template's tier must be one the plan allows.
- `max_instances` counts instances that run or will run again: everything but stopping,
  stopped and deleted ones. A downgrade over the limit (too many instances, or instances of
  a tier the new plan excludes) is settled by stopping instances (`billing.limits`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import any_, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from railsaas.errors import LimitExceeded
from railsaas.models import Instance, Plan, Subscription, Template, Tenant
from railsaas.models.billing import SUBSCRIPTION_LIVE

# Statuses that do not count against max_instances (on their way out, or out).
NOT_COUNTED = ("stopping", "stopped", "deleting", "deleted")


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
    live = session.scalar(
        select(
            exists().where(
                Subscription.tenant_id == tenant_id, Subscription.status.in_(SUBSCRIPTION_LIVE)
            )
        )
    )
    return bool(had and not live)


def _hold_message(reason: str) -> str:
    return {
        "payment_failed": "This workspace's payment is overdue, so its instances are stopped. "
        "Pay the open invoice on the billing page to deploy again.",
        "spend_cap": "This workspace has reached its spend cap for this period. Raise the cap "
        "on the billing page, or wait for the next period, to deploy again.",
        "subscription_ended": "This workspace's subscription has ended. Subscribe again on "
        "the billing page to deploy.",
    }[reason]


def check_can_run(session: Session, tenant: Tenant) -> None:
    """Nothing may start in a workspace billing holds or an admin suspended."""
    if tenant.status != "active":
        raise LimitExceeded(
            "This workspace is suspended. Contact support.", code="workspace_suspended"
        )
    reason = hold_reason(session, tenant)
    if reason is not None:
        raise LimitExceeded(_hold_message(reason), code=reason)


# --- the plan's limits ------------------------------------------------------------------------


def counted_instances(session: Session, tenant_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Instance)
            .where(Instance.tenant_id == tenant_id, Instance.status.notin_(NOT_COUNTED))
        )
        or 0
    )


def counted_list(session: Session, tenant_id: uuid.UUID) -> list[Instance]:
    return list(
        session.scalars(
            select(Instance)
            .where(Instance.tenant_id == tenant_id, Instance.status.notin_(NOT_COUNTED))
            .order_by(Instance.created_at)
        ).unique()
    )


def check_can_deploy(session: Session, tenant: Tenant, template: Template) -> None:
    """Raise LimitExceeded (402) with what to do about it, or return: the plan allows one
    more instance of this template in this workspace."""
    check_can_run(session, tenant)
    plan = tenant.plan
    if plan is None:
        raise LimitExceeded("Choose a plan on the pricing page before deploying.", code="no_plan")
    if template.price_tier not in (plan.allowed_tiers or []):
        allowed = ", ".join(plan.allowed_tiers) or "no"
        raise LimitExceeded(
            f"The {plan.name} plan includes {allowed} templates, and {template.name} is a "
            f"{template.price_tier} template. Upgrade your plan to deploy it.",
            code="tier_not_allowed",
        )
    count = counted_instances(session, tenant.id)
    if count >= plan.max_instances:
        raise LimitExceeded(
            f"The {plan.name} plan runs up to {plan.max_instances} instances and this "
            f"workspace has {count}. Stop or delete one, or upgrade your plan.",
            code="instance_limit",
        )


def check_can_start(session: Session, tenant: Tenant) -> None:
    """Starting a stopped instance makes it count again: the same limits, minus the tier."""
    check_can_run(session, tenant)
    plan = tenant.plan
    if plan is None:
        raise LimitExceeded("Choose a plan on the pricing page first.", code="no_plan")
    count = counted_instances(session, tenant.id)
    if count >= plan.max_instances:
        raise LimitExceeded(
            f"The {plan.name} plan runs up to {plan.max_instances} instances at a time and "
            f"{count} are running. Stop one first, or upgrade your plan.",
            code="instance_limit",
        )


@dataclass(frozen=True)
class OverLimit:
    plan_name: str
    allowed: int
    counted: int
    # Counted instances of tiers the plan does not include: they stop whatever the count.
    excluded: tuple[uuid.UUID, ...] = ()

    @property
    def to_stop(self) -> int:
        return max(self.counted - self.allowed, 0)


def over_limit(session: Session, tenant: Tenant) -> OverLimit | None:
    plan = tenant.plan if tenant.plan_id else None
    if plan is None:
        return None
    counted = counted_list(session, tenant.id)
    allowed_tiers = set(plan.allowed_tiers or [])
    excluded = tuple(i.id for i in counted if i.template.price_tier not in allowed_tiers)
    if len(counted) <= plan.max_instances and not excluded:
        return None
    return OverLimit(plan.name, plan.max_instances, len(counted), excluded)


def beyond_limit(session: Session, tenant: Tenant) -> list[uuid.UUID]:
    """What stops when a grace period ends without the owner choosing: the instances of
    excluded tiers, then the newest beyond the plan's count (the oldest keep running)."""
    over = over_limit(session, tenant)
    if over is None:
        return []
    keep = [i.id for i in counted_list(session, tenant.id) if i.id not in over.excluded]
    return list(over.excluded) + keep[over.allowed :]


def over_limit_tenants(session: Session) -> list[uuid.UUID]:
    """Workspaces over their plan's count or running a tier it excludes (one query)."""
    counted = (Instance.tenant_id == Tenant.id) & Instance.status.notin_(NOT_COUNTED)
    too_many = (
        select(func.count()).select_from(Instance).where(counted).scalar_subquery()
        > Plan.max_instances
    )
    bad_tier = exists().where(
        counted,
        Instance.template_id == Template.id,
        not_(Template.price_tier == any_(Plan.allowed_tiers)),
    )
    return list(
        session.scalars(
            select(Tenant.id)
            .join(Plan, Plan.id == Tenant.plan_id)
            .where(or_(too_many, bad_tier))
            .order_by(Tenant.id)
        )
    )
