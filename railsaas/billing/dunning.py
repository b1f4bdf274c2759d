"""Dunning: what happens to a workspace that stopped paying.

    payment fails      -> dunning_stage 'notified': email, banner
    + DUNNING_GRACE_DAYS  -> 'suspended': instances stopped (billing hold), email
    + DUNNING_DELETE_DAYS -> 'deleted': instances deleted, email
    paid again (any stage) -> cleared; suspended instances start again by themselves

Entering and leaving follow the subscription's status as Stripe holds it (past_due or unpaid
means money is owed), applied by railsaas.billing.subscriptions under the workspace's row
lock; the deadlines are measured from `payment_failed_at` on Stripe's clock
(billing.gateway.now), so an advanced emulator clock drives the whole timeline.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from railsaas.billing import holds
from railsaas.billing import notify as billing_notify
from railsaas.instances import lifecycle
from railsaas.models import Tenant
from railsaas.platform import audit

log = logging.getLogger(__name__)


def deadlines(failed_at: datetime) -> tuple[datetime, datetime]:
    cfg = current_app.config
    return (
        failed_at + timedelta(days=cfg["DUNNING_GRACE_DAYS"]),
        failed_at + timedelta(days=cfg["DUNNING_DELETE_DAYS"]),
    )


def _day(when: datetime) -> str:
    return when.strftime("%B %-d, %Y")


def enter(
    session: Session, tenant: Tenant, failed_at: datetime, invoice_url: str | None = None
) -> bool:
    """A payment failed: start the clock (once). The caller holds the tenant's row lock."""
    if tenant.payment_failed_at is not None:
        return False
    tenant.payment_failed_at = failed_at
    tenant.dunning_stage = "notified"
    suspend_on, delete_on = deadlines(failed_at)
    audit.record(
        session,
        "billing.payment_failed",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        actor_user_id=None,
        actor_type="system",
        details={"failed_at": failed_at.isoformat()},
    )
    billing_notify.tell(
        session,
        tenant.id,
        kind="payment_failed",
        subject="Your payment failed",
        body=f"We could not collect the payment for {tenant.name}. Please update your card "
        "or pay the open invoice.",
        invoice_url=invoice_url,
        suspend_on=_day(suspend_on),
        delete_on=_day(delete_on),
    )
    return True


def clear(session: Session, tenant: Tenant) -> bool:
    """Paid again: forget the failure and restart what dunning stopped."""
    if tenant.payment_failed_at is None and tenant.dunning_stage is None:
        return False
    stage = tenant.dunning_stage
    tenant.payment_failed_at = None
    tenant.dunning_stage = None
    _, restarted = holds.reconcile(session, tenant)
    audit.record(
        session,
        "billing.payment_recovered",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        actor_user_id=None,
        actor_type="system",
        details={"stage": stage, "restarted": restarted},
    )
    body = f"Thank you: the payment for {tenant.name} went through."
    if stage == "suspended":
        body += " Your instances are starting again."
    billing_notify.tell(
        session, tenant.id, kind="payment_recovered", subject="Payment received", body=body
    )
    return True


def advance(session: Session, tenant: Tenant, now: datetime) -> list[str]:
    """Take the steps whose deadline has passed (caller holds the row lock). A workspace
    already suspended is held again: whatever started since the last run stops."""
    if tenant.payment_failed_at is None:
        return []
    suspend_on, delete_on = deadlines(tenant.payment_failed_at)
    steps: list[str] = []
    if tenant.dunning_stage in ("suspended", "deleted"):
        outcome, n = holds.reconcile(session, tenant)
        if outcome == "suspended":
            audit.record(
                session,
                "billing.dunning_resuspend",
                target_type="tenant",
                target_id=tenant.id,
                tenant_id=tenant.id,
                actor_user_id=None,
                actor_type="system",
                details={"instances": n},
            )
    if tenant.dunning_stage in (None, "notified") and now >= suspend_on:
        tenant.dunning_stage = "suspended"
        _, n = holds.reconcile(session, tenant)
        audit.record(
            session,
            "billing.dunning_suspend",
            target_type="tenant",
            target_id=tenant.id,
            tenant_id=tenant.id,
            actor_user_id=None,
            actor_type="system",
            details={"instances": n},
        )
        billing_notify.tell(
            session,
            tenant.id,
            kind="suspended",
            subject="Your instances are stopped: payment overdue",
            body=f"The payment for {tenant.name} is {current_app.config['DUNNING_GRACE_DAYS']}"
            " days overdue, so its instances have been stopped.",
            delete_on=_day(delete_on),
        )
        steps.append("suspended")
    if tenant.dunning_stage == "suspended" and now >= delete_on:
        tenant.dunning_stage = "deleted"
        n = lifecycle.delete_tenant_instances(session, tenant.id, "payment_failed")
        audit.record(
            session,
            "billing.dunning_delete",
            target_type="tenant",
            target_id=tenant.id,
            tenant_id=tenant.id,
            actor_user_id=None,
            actor_type="system",
            details={"instances": n},
        )
        billing_notify.tell(
            session,
            tenant.id,
            kind="deleted",
            subject="Your instances have been deleted",
            body=f"The payment for {tenant.name} stayed unpaid for "
            f"{current_app.config['DUNNING_DELETE_DAYS']} days, so its instances have "
            "been deleted.",
        )
        steps.append("deleted")
    return steps


def tenants_in_dunning(session: Session) -> list:
    return list(
        session.scalars(
            select(Tenant.id).where(
                Tenant.payment_failed_at.isnot(None),
                Tenant.dunning_stage.is_distinct_from("deleted"),
            )
        )
    )
