"""A workspace over its plan's limits (after a downgrade): too many instances, or instances of
a tier the plan excludes. What counts is `instances.admission`'s.

    over the limits       -> over_limit_since = now: email + notification, with the date
    a day before the end  -> reminder (once)
    PLAN_LIMIT_GRACE_DAYS -> the instances of excluded tiers and the newest beyond the count
                             stop (`admission.beyond_limit`)
    within the plan again -> cleared, nothing stops (an upgrade, or instances deleted or
                             stopped; the owner may pick which to stop at any time)

`evaluate` is run when the plan changes and by the `billing.plan_limits` beat task, on
Stripe's clock (`gateway.now`), so an advanced emulator clock drives the timeline.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from railsaas.billing import holds
from railsaas.billing import notify as billing_notify
from railsaas.errors import NotFound, ValidationFailed
from railsaas.instances import admission, lifecycle
from railsaas.models import Tenant
from railsaas.permissions import authorize
from railsaas.platform import audit


def deadline(tenant: Tenant) -> datetime | None:
    if tenant.over_limit_since is None:
        return None
    return tenant.over_limit_since + timedelta(days=current_app.config["PLAN_LIMIT_GRACE_DAYS"])


def _day(when: datetime) -> str:
    return when.strftime("%B %-d, %Y")


def _what(over: admission.OverLimit, tenant: Tenant) -> str:
    parts = []
    if over.counted > over.allowed:
        parts.append(
            f"The {over.plan_name} plan runs {over.allowed} instances at a time and "
            f"{tenant.name} has {over.counted}."
        )
    if over.excluded:
        n = len(over.excluded)
        parts.append(
            f"{n} instance{'s' if n != 1 else ''} of {tenant.name} use a template "
            f"tier the {over.plan_name} plan does not include."
        )
    return " ".join(parts)


def evaluate(session: Session, tenant: Tenant, now: datetime) -> str | None:
    """Move the workspace along its grace period (caller holds the row lock). Returns what
    happened: 'started', 'reminded', 'stopped', 'cleared', or None."""
    over = admission.over_limit(session, tenant)
    if over is None:
        if tenant.over_limit_since is None:
            return None
        tenant.over_limit_since = tenant.over_limit_reminded_at = None
        audit.record(
            session,
            "billing.over_limit_cleared",
            target_type="tenant",
            target_id=tenant.id,
            tenant_id=tenant.id,
            actor_user_id=None,
            actor_type="system",
        )
        return "cleared"
    link = billing_notify.billing_url() + "/over-limit"
    if tenant.over_limit_since is None:
        tenant.over_limit_since = now
        tenant.over_limit_reminded_at = None
        ends = _day(deadline(tenant))
        audit.record(
            session,
            "billing.over_limit_started",
            target_type="tenant",
            target_id=tenant.id,
            tenant_id=tenant.id,
            actor_user_id=None,
            actor_type="system",
            details={
                "counted": over.counted,
                "allowed": over.allowed,
                "excluded": len(over.excluded),
            },
        )
        billing_notify.tell(
            session,
            tenant.id,
            kind="over_limit",
            subject="Choose which instances to stop",
            body=f"{_what(over, tenant)} Choose which to stop by {ends}; after that the "
            "newest beyond the plan stop by themselves. Upgrading keeps them all. New "
            "deploys wait until then.",
            link=link,
        )
        return "started"
    ends = deadline(tenant)
    if now >= ends:
        stop = admission.beyond_limit(session, tenant)
        n = lifecycle.stop_instances(session, tenant.id, stop, "plan_limit")
        tenant.over_limit_since = tenant.over_limit_reminded_at = None
        audit.record(
            session,
            "billing.over_limit_enforced",
            target_type="tenant",
            target_id=tenant.id,
            tenant_id=tenant.id,
            actor_user_id=None,
            actor_type="system",
            details={"instances": [str(i) for i in stop], "stopped": n},
        )
        billing_notify.tell(
            session,
            tenant.id,
            kind="over_limit_stopped",
            subject="Instances stopped to fit your plan",
            body=f"{_what(over, tenant)} The grace period ended, so {n} instance"
            f"{'s' if n != 1 else ''} beyond the plan stopped. Upgrade to start them "
            "again.",
        )
        return "stopped"
    if now >= ends - timedelta(days=1) and tenant.over_limit_reminded_at is None:
        tenant.over_limit_reminded_at = now
        billing_notify.tell(
            session,
            tenant.id,
            kind="over_limit_reminder",
            subject=f"Instances stop on {_day(ends)}",
            body=f"{_what(over, tenant)} On {_day(ends)} the newest beyond the plan stop. "
            "Choose which to stop, delete some, or upgrade before then.",
            link=link,
        )
        return "reminded"
    return None


def candidates(session: Session) -> list[uuid.UUID]:
    """Workspaces to evaluate: over the limits now, or in a grace period."""
    ids = set(admission.over_limit_tenants(session))
    ids |= set(session.scalars(select(Tenant.id).where(Tenant.over_limit_since.isnot(None))))
    return sorted(ids)


def stop_over_limit(session: Session, workspace, instance_ids: list[Any], now: datetime) -> int:
    """Stop the instances the owner picked: enough to fit the plan, counting every instance
    of a tier it excludes. The owner's (billing.manage); the workspace row is locked."""
    authorize(workspace, "billing.manage")
    tenant = holds.lock_tenant(session, workspace.id)
    over = admission.over_limit(session, tenant)
    ids: set[uuid.UUID] = set()
    for raw in instance_ids:
        try:
            ids.add(uuid.UUID(str(raw)))
        except ValueError:
            raise NotFound("No such instance.") from None
    mine = {i.id for i in admission.counted_list(session, tenant.id)}
    if ids - mine:
        raise NotFound("No such instance.")
    if over is not None and len(ids) < over.to_stop:
        raise ValidationFailed(
            f"Pick at least {over.to_stop} instance{'s' if over.to_stop > 1 else ''} to stop.",
            details={"instance_ids": f"pick at least {over.to_stop}"},
        )
    if over is not None and set(over.excluded) - ids:
        raise ValidationFailed(
            f"The {over.plan_name} plan does not include the tier of every instance left "
            "running: pick those too.",
            details={"instance_ids": "pick the excluded tiers"},
        )
    if not ids:
        return 0
    stopped = lifecycle.stop_instances(session, tenant.id, sorted(ids), "plan_limit")
    audit.record(
        session,
        "billing.over_limit_stopped",
        target_type="tenant",
        target_id=tenant.id,
        details={"instances": [str(i) for i in sorted(ids)]},
    )
    evaluate(session, tenant, now)
    return stopped
