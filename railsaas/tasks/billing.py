"""Billing's background work. Every task is idempotent and takes ids (or nothing).

- billing.process_stripe_event  one stored Stripe event, once (queued by the webhook)
- billing.catch_up_events       beat: events Stripe has that we never received
- billing.dunning               beat: grace period -> suspend, deadline -> delete
- billing.plan_limits           beat: a downgrade's grace period -> warn, remind, stop
- billing.usage_hourly          beat: collect Railway usage, roll it up, enforce spend caps,
                                report overage to Stripe
- billing.send_overage          one overage report to Stripe
- billing.template_costs        beat, daily: each template's real median monthly cost
- billing.flush_overage         a period that just ended: roll up, report its overage, send
- billing.sync_plan_prices      beat: plans without their metered overage price get it
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from celery import shared_task
from flask import current_app

from railsaas.billing import (
    dunning,
    gateway,
    limits,
    overage,
    plans,
    spend_caps,
    stripe_events,
    template_costs,
    usage,
)
from railsaas.billing.holds import lock_tenant
from railsaas.billing.subscriptions import LIVE_STATUSES, current, sync
from railsaas.catalog import templates as catalog_templates
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.observability import metrics
from railsaas.railway import pool
from railsaas.tasks import capped_countdown

log = logging.getLogger(__name__)


@shared_task(name="billing.process_stripe_event", bind=True, max_retries=10)
def process_stripe_event(self, event_id: str) -> str:
    try:
        with db.scope(SYSTEM) as session:
            return stripe_events.process(session, event_id)
    except gateway.BillingUnavailable as exc:  # Stripe unreachable: try again later
        backoff = capped_countdown(min(600, 5 * 2**self.request.retries))
        raise self.retry(exc=exc, countdown=backoff) from exc


@shared_task(name="billing.catch_up_events")
def catch_up_events() -> int:
    try:
        with db.scope(SYSTEM) as session:
            caught = len(stripe_events.catch_up(session))
        metrics.stripe_events_caught_up(caught)  # webhooks Stripe never delivered
        return caught
    except gateway.BillingUnavailable:
        log.warning("stripe catch-up skipped: Stripe unreachable")
        return 0


@shared_task(name="billing.dunning")
def run_dunning() -> int:
    """Each workspace in dunning, in its own transaction under its row lock. Before acting,
    Stripe is asked once more (a payment may have landed without its webhook yet)."""
    steps = 0
    now = gateway.now()
    with db.scope(SYSTEM) as session:
        tenant_ids = dunning.tenants_in_dunning(session)
    for tenant_id in tenant_ids:
        try:
            with db.scope(SYSTEM) as session:
                tenant = lock_tenant(session, tenant_id)
                if tenant is None or tenant.payment_failed_at is None:
                    continue
                row = current(session, tenant.id)
                if row is not None and row.status in LIVE_STATUSES:
                    sync(session, tenant, row.stripe_subscription_id, seen_at=now)
                steps += len(dunning.advance(session, tenant, now))
        except gateway.BillingUnavailable:
            log.warning(
                "dunning skipped a workspace: Stripe unreachable",
                extra={"tenant_id": str(tenant_id)},
            )
    return steps


@shared_task(name="billing.plan_limits")
def plan_limits() -> dict:
    """Each workspace over its plan's limits, or in a grace period, evaluated in its own
    transaction under its row lock, on Stripe's clock. Returns {outcome: count}."""
    now = gateway.now()
    outcomes: dict[str, int] = {}
    with db.scope(SYSTEM) as session:
        tenant_ids = limits.candidates(session)
    for tenant_id in tenant_ids:
        with db.scope(SYSTEM) as session:
            tenant = lock_tenant(session, tenant_id)
            outcome = limits.evaluate(session, tenant, now) if tenant is not None else None
        if outcome:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@shared_task(name="billing.usage_hourly")
def usage_hourly(lookback_hours: int = 3) -> dict:
    """Collect the last hours' usage (a missed run is caught up), roll it up, then let
    caps and overage follow. Each step commits on its own: a Railway outage still leaves
    the roll-up, the caps and the overage of what was collected before."""
    result = {"collected": 0, "rolled_up": 0, "cap_changes": 0, "reports": 0}
    # Each Railway workspace of the pool reports the usage of its own projects.
    clients = [pool.client_for(e.id) for e in pool.entries() if e.state != "closed"]
    for client in clients or [pool.client_for(None)]:
        for hour in usage.hours_to_collect(datetime.now(UTC), lookback_hours):
            try:
                with db.scope(SYSTEM) as session:
                    result["collected"] += usage.collect(
                        session, client, hour, hour + timedelta(hours=1)
                    )
            except Exception:  # one hour (or Railway workspace) failing must not stop the rest
                log.exception("usage collection failed", extra={"hour": hour.isoformat()})
    with db.scope(SYSTEM) as session:
        result["rolled_up"] = usage.rollup(session).groups
    now = gateway.now()
    with db.scope(SYSTEM) as session:
        result["cap_changes"] = len(spend_caps.enforce_all(session, now))
    with db.scope(SYSTEM) as session:
        overage.plan_reports(session, now)
        pending = overage.pending(session)
    for report_id in pending:
        send_overage.delay(str(report_id))
    result["reports"] = len(pending)
    return result


@shared_task(name="billing.send_overage", bind=True, max_retries=8)
def send_overage(self, report_id: str) -> str:
    try:
        with db.scope(SYSTEM) as session:
            return overage.send(session, uuid.UUID(report_id))
    except gateway.BillingUnavailable as exc:
        backoff = capped_countdown(min(600, 10 * 2**self.request.retries))
        raise self.retry(exc=exc, countdown=backoff) from exc


@shared_task(name="billing.template_costs")
def template_costs_daily() -> int:
    """Beat: daily. Each template's real median monthly cost, for the catalog."""
    cfg = current_app.config
    with db.scope(SYSTEM) as session:
        shown = template_costs.refresh(
            session,
            datetime.now(UTC).date(),
            markup_percent=int(cfg["USAGE_MARKUP_PERCENT"]),
            min_instances=int(cfg["COST_MEDIAN_MIN_INSTANCES"]),
        )
    catalog_templates.invalidate_cache()  # after the commit: readers see the new medians
    return shown


@shared_task(name="billing.flush_overage", bind=True, max_retries=8)
def flush_overage(self, workspace_id: str, period_start: int, period_end: int) -> str:
    """Queued by a renewal invoice's `invoice.created`: report the old period's overage
    before Stripe finalizes that invoice (an hour later, by default)."""
    with db.scope(SYSTEM) as session:
        usage.rollup(session)
    with db.scope(SYSTEM) as session:
        report_id = overage.flush_period(
            session,
            uuid.UUID(workspace_id),
            datetime.fromtimestamp(period_start, UTC),
            datetime.fromtimestamp(period_end, UTC),
            gateway.now(),
        )
    if report_id is None:
        return "nothing"
    try:
        with db.scope(SYSTEM) as session:
            return overage.send(session, report_id)
    except gateway.BillingUnavailable as exc:
        raise self.retry(
            exc=exc, countdown=capped_countdown(min(600, 10 * 2**self.request.retries))
        ) from exc


@shared_task(name="billing.sync_plan_prices")
def sync_plan_prices() -> int:
    """Plans saved before the overage price was made at plan sync get theirs."""
    try:
        with db.scope(SYSTEM) as session:
            return len(plans.backfill_usage_prices(session))
    except gateway.BillingUnavailable:
        log.warning("plan price sync skipped: Stripe unreachable")
        return 0
