"""Per-workspace spend caps: Railway caps a whole Railway workspace and stops every customer
in it; RailSaaS caps each of its workspaces and stops only that one.

Spend is the workspace's usage this period at its prices (markup included). The cap is the
owner's (`tenants.spend_cap_cents`) or else the plan's default. The state is derived from
spend and cap every time it is evaluated, so a new period or a raised cap undoes it:

    ok      -> warned  at 80%: email + banner
    *       -> capped  at 100%: the workspace's instances stop (billing hold 'spend_cap')
    capped  -> warned/ok once spend is under the cap again: they start again
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from railsaas.billing import holds, usage
from railsaas.billing import notify as billing_notify
from railsaas.errors import ValidationFailed
from railsaas.models import Tenant
from railsaas.permissions import authorize
from railsaas.platform import audit

WARN_AT = 0.8
# What an owner may set: at least $1, at most $100,000 a period.
MIN_CAP_CENTS, MAX_CAP_CENTS = 100, 10_000_000


def cap_cents(tenant: Tenant) -> int | None:
    if tenant.spend_cap_cents is not None:
        return tenant.spend_cap_cents
    return tenant.plan.spend_cap_default_cents if tenant.plan is not None else None


def state_for(spend: int, cap: int | None) -> str:
    if cap is None:
        return "ok"
    if spend >= cap:
        return "capped"
    if spend >= cap * WARN_AT:
        return "warned"
    return "ok"


@dataclass(frozen=True)
class Change:
    tenant_id: uuid.UUID
    before: str
    after: str
    spend_cents: int
    cap_cents: int | None


def _money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def apply_state(session: Session, tenant: Tenant, spend: int) -> Change | None:
    """Move the workspace to the state its spend calls for (caller holds the row lock)."""
    cap = cap_cents(tenant)
    before, after = tenant.spend_cap_state, state_for(spend, cap)
    if before == after:
        return None
    tenant.spend_cap_state = after
    audit.record(
        session,
        "billing.spend_cap_state",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        actor_user_id=None,
        actor_type="system",
        details={"from": before, "to": after, "spend_cents": spend, "cap_cents": cap},
    )
    if after == "capped":
        holds.reconcile(session, tenant)
        billing_notify.tell(
            session,
            tenant.id,
            kind="spend_capped",
            subject="Spend cap reached: your instances are stopped",
            body=f"{tenant.name} has used {_money(spend)} this period, its spend cap of "
            f"{_money(cap)}, so its instances have been stopped. Raise the cap to start "
            "them again; a new period starts them by itself.",
        )
    elif before == "capped":
        holds.reconcile(session, tenant)
        billing_notify.tell(
            session,
            tenant.id,
            kind="spend_restored",
            subject="Your instances are starting again",
            body=f"{tenant.name} is below its spend cap again ({_money(spend)} of "
            f"{_money(cap)}), so its instances are starting.",
        )
    if after == "warned" and before == "ok":
        billing_notify.tell(
            session,
            tenant.id,
            kind="spend_warning",
            subject="You have used 80% of your spend cap",
            body=f"{tenant.name} has used {_money(spend)} of its {_money(cap)} spend cap this "
            "period. At the cap its instances stop; raise it on the billing page if you "
            "need more.",
        )
    return Change(tenant.id, before, after, spend, cap)


def evaluate_tenant(session: Session, tenant: Tenant, now: datetime) -> Change | None:
    """Re-evaluate one workspace now (a cap changed, a period began, a plan changed)."""
    markup = current_app.config["USAGE_MARKUP_PERCENT"]
    period = usage.current_period(session, tenant.id, now)
    spend = usage.tenant_usage(session, tenant.id, period, markup_percent=markup).spend_cents
    return apply_state(session, tenant, spend)


def enforce_all(session: Session, now: datetime) -> list[Change]:
    """The hourly sweep: spend of every workspace in one query, then only the workspaces
    whose state must change are locked and moved (each re-read under its lock). Then every
    hold is enforced again: what started in a held workspace since the last sweep stops."""

    markup = current_app.config["USAGE_MARKUP_PERCENT"]
    spend = usage.spend_by_tenant(session, now, markup)
    candidates = set(spend)
    candidates |= set(session.scalars(select(Tenant.id).where(Tenant.spend_cap_state != "ok")))
    changes = []
    tenants = (
        session.scalars(select(Tenant).where(Tenant.id.in_(candidates)).order_by(Tenant.id))
        .unique()
        .all()
        if candidates
        else []
    )
    for tenant in tenants:
        if tenant.spend_cap_state == state_for(
            spend.get(tenant.id, (0, None))[0], cap_cents(tenant)
        ):
            continue
        tenant = holds.lock_tenant(session, tenant.id)
        change = evaluate_tenant(session, tenant, now)
        if change is not None:
            changes.append(change)
    holds.enforce_all(session)
    return changes


def parse_cap(
    dollars: str | float | int | None,
    *,
    min_cents: int = MIN_CAP_CENTS,
    max_cents: int = MAX_CAP_CENTS,
) -> int | None:
    """A cap typed in dollars ("150", "$1,200.50") as cents; None or '' for the plan's
    default."""
    if dollars is None or str(dollars).strip() == "":
        return None
    try:
        cents = round(float(str(dollars).replace(",", "").strip().lstrip("$")) * 100)
    except (ValueError, OverflowError):  # "nan", "inf", "1e400"
        raise ValidationFailed(
            "Enter the cap in dollars, like 150.", details={"spend_cap": "not a number"}
        ) from None
    if not min_cents <= cents <= max_cents:
        raise ValidationFailed(
            f"A spend cap is between {_money(min_cents)} and {_money(max_cents)}.",
            details={"spend_cap": "out of range"},
        )
    return cents


def set_own_cap(session: Session, workspace, dollars: str, now: datetime) -> Change | None:
    """The owner sets the workspace's cap as typed ('' for the plan's default): checked
    (billing.manage) before the value is parsed, with the workspace row locked. (Platform
    staff use set_cap through billing.admin_workspaces.)"""
    authorize(workspace, "billing.manage")
    cents = parse_cap(dollars)
    return set_cap(session, holds.lock_tenant(session, workspace.id), cents, now)


def set_cap(
    session: Session,
    tenant: Tenant,
    cents: int | None,
    now: datetime,
    *,
    action: str = "billing.spend_cap_set",
) -> Change | None:
    """Set the workspace's cap (None: the plan's default), audit it, and apply the new state
    at once: a raised cap starts instances the old one stopped."""
    previous = tenant.spend_cap_cents
    if previous == cents:
        return None
    tenant.spend_cap_cents = cents
    audit.record(
        session,
        action,
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        details={"from_cents": previous, "to_cents": cents},
    )
    session.flush()
    return evaluate_tenant(session, tenant, now)
