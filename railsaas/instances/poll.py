"""Watching instances on Railway: the batched poll and what it applies.

Beat runs `poll` every POLL_INTERVAL (railsaas.instances.cadence): it claims the instances
that are due, asks Railway about all of them in batched requests, applies what Railway
reports through the state machine, finds the main service of a fresh template deploy, and
fails what is stuck past the deploy timeout. A Railway webhook only makes instances due now
(`refresh_from_webhook`); its payload's status is never trusted.

The poll only trusts what Railway reports for an instance once its open step is
`in_progress` (accepted), and, where Railway named the new deployment, only reports about
that deployment: an earlier deployment's SUCCESS must not finish a redeploy that has not
started yet.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from railsaas import versions
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.instances import domains, insights, states
from railsaas.instances.cadence import SLOW_POLL, fast_poll, now
from railsaas.instances.steps import (
    WATCHED_KINDS,
    Snap,
    client,
    finish,
    locked,
    notify_outcome,
    snapshot,
)
from railsaas.models import Deployment, Instance
from railsaas.platform import outbox
from railsaas.railway import errors as rw
from railsaas.railway import pool
from railsaas.railway.status import instance_status

log = logging.getLogger(__name__)

POLL_BATCH = 100
STEP_TASK = "instances.run_step"  # railsaas.instances.lifecycle enqueues steps by this name
# How long a restarted deployment may still read CRASHED before it counts as crashed again.
RESTART_GRACE = timedelta(seconds=90)
LOG_EXCERPT_LINES = 40
# Seconds a batched status request waits for its Railway workspace's budget; past that the
# batch is skipped until its instances are due again, and the other workspaces go on.
POLL_RATE_WAIT = 2.0


def _due(
    session: Session,
    limit: int,
    only: list[uuid.UUID] | None,
    railway_workspace_id: uuid.UUID | None = None,
) -> list[Instance]:
    stmt = select(Instance).where(Instance.status != "deleted")
    if only is not None:
        stmt = stmt.where(Instance.id.in_(only))
    else:
        stmt = stmt.where(Instance.next_poll_at <= now())
    if railway_workspace_id is not None:
        # One Railway workspace's instances, within its own budget (NULL: the environment's).
        here = Instance.railway_workspace_id == railway_workspace_id
        if pool.is_environment(railway_workspace_id):
            here = or_(here, Instance.railway_workspace_id.is_(None))
        stmt = stmt.where(here)
    rows = list(
        session.scalars(
            stmt.order_by(Instance.next_poll_at)
            .limit(limit)
            .with_for_update(of=Instance, skip_locked=True)
        ).unique()
    )
    for inst in rows:  # claimed: a concurrent poll skips them until they are due again
        inst.next_poll_at = now() + (fast_poll() if inst.status in states.IN_FLIGHT else SLOW_POLL)
    return rows


def _open_steps(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, Deployment]:
    if not ids:
        return {}
    rows = session.scalars(
        select(Deployment)
        .where(Deployment.instance_id.in_(ids), Deployment.status.in_(("queued", "in_progress")))
        .order_by(Deployment.created_at)
    ).all()
    return {d.instance_id: d for d in rows}  # the newest open step wins


def poll(
    limit: int = POLL_BATCH,
    only: list[uuid.UUID] | None = None,
    railway_workspace_id: uuid.UUID | None = None,
) -> dict[str, int]:
    """One round: claim due instances (of one Railway workspace of the pool, when given),
    ask Railway about all of them in batched requests, each through the client of its own
    Railway workspace, apply what it says, fail what is stuck past the deploy timeout."""
    counts = {"polled": 0, "changed": 0, "timed_out": 0}
    with db.scope(SYSTEM) as s:
        rows = _due(s, limit, only, railway_workspace_id)
        snaps = [snapshot(i) for i in rows]
        # Custom domains Railway has not verified: refreshed at the instance's own cadence,
        # through the client of the Railway workspace the project lives in.
        unverified: dict[uuid.UUID | None, list] = {}
        for i in rows:
            if domains.needs_refresh(i):
                unverified.setdefault(i.railway_workspace_id, []).append(
                    (
                        i.id,
                        i.railway_project_id,
                        i.railway_environment_id,
                        i.railway_service_id,
                        i.custom_domain,
                    )
                )
        steps = {
            k: (v.id, v.kind, v.status, v.railway_deployment_id, v.started_at)
            for k, v in _open_steps(s, [i.id for i in rows]).items()
        }
    if not snaps:
        return counts
    counts["polled"] = len(snaps)
    statuses: dict = {}
    by_workspace: dict[uuid.UUID | None, list[Snap]] = {}
    for x in snaps:
        if x.service_id and x.environment_id:
            by_workspace.setdefault(x.railway_workspace_id, []).append(x)
    for workspace, group in by_workspace.items():
        # A dead token or spent budget on one Railway workspace leaves the others polled.
        try:
            statuses.update(
                client(workspace)
                .waiting_at_most(POLL_RATE_WAIT)
                .service_statuses([(x.environment_id, x.service_id) for x in group])
            )
        except rw.RailwayError as exc:
            log.warning("batch status poll failed (Railway workspace %s): %s", workspace, exc)
    for snap in snaps:
        try:
            step = steps.get(snap.id)
            if snap.service_id and snap.environment_id:
                key = (snap.environment_id, snap.service_id)
                if key in statuses:
                    counts["changed"] += _observe(snap, step, statuses[key])
            elif snap.status in states.IN_FLIGHT and snap.project_id:
                counts["changed"] += _discover_service(snap, step)
        except rw.RailwayError as exc:
            log.warning("poll of instance %s failed: %s", snap.id, exc)
    # One batched request at most per Railway workspace.
    counts["domains"] = sum(
        domains.refresh(client(workspace).waiting_at_most(POLL_RATE_WAIT), pending)
        for workspace, pending in unverified.items()
    )
    counts["timed_out"] = check_timeouts()
    return counts


def _discover_service(snap: Snap, step) -> int:
    """After templateDeployV2: watch the project until the instance's main service is
    certain. The services appear one by one while Railway's workflow runs (the database
    first), so the first one seen is not necessarily the app."""
    rc = client(snap.railway_workspace_id)
    complete = False
    if snap.workflow_id:
        try:
            wf = rc.workflow_status(snap.workflow_id)
        except rw.Unauthorized:
            # Railway may refuse to show a workflow (the CLI: "can't be polled; it keeps
            # running server-side"): go by the project's services alone.
            wf = None
        if wf is not None and wf.failed:
            return _apply(
                snap.id,
                step,
                "failed",
                f"Railway could not deploy the template: {wf.error or 'workflow error'}",
            )
        complete = wf is not None and wf.status == "Complete"
    project = rc.project(snap.project_id)
    if not project.services:
        _maybe_resend(snap, step)
        return 0
    service = _main_service(project.services, snap.serialized_config, complete)
    if service is None:
        return 0  # the app is still to appear
    with db.scope(SYSTEM) as s:
        inst = locked(s, snap.id)
        if inst.railway_service_id is None:
            inst.railway_service_id = service.id
        inst.next_poll_at = now()
    return 0


def _maybe_resend(snap: Snap, step) -> None:
    """A deploy whose answer was lost (no workflow id) and whose project still has no
    service after DEPLOY_RESEND_AFTER_SECONDS is sent again: back to queued, and run."""
    if step is None or snap.workflow_id:
        return
    step_id, kind, step_status, _expected, started = step
    if kind != "deploy" or step_status != "in_progress" or started is None:
        return
    wait = timedelta(seconds=int(current_app.config["DEPLOY_RESEND_AFTER_SECONDS"]))
    if now() - started < wait:
        return
    with db.scope(SYSTEM) as s:
        row = s.get(Deployment, step_id, with_for_update=True)
        if row is None or row.status != "in_progress":
            return
        row.status = "queued"
        row.started_at = None
        log.warning("instance %s: no service %s after the deploy; sending it again", snap.id, wait)
        outbox.enqueue(s, STEP_TASK, tenant_id=snap.tenant_id, step_id=step_id)


def _main_service(services, serialized: dict | None, complete: bool = True):
    """The service customers reach: the one the template gives a public domain. None while
    it may still appear (only a complete workflow, or every template service present, lets
    the choice fall back to another)."""
    configs = [
        c for c in ((serialized or {}).get("services") or {}).values() if isinstance(c, dict)
    ]
    by_name = {svc.name: svc for svc in services}
    public = [c.get("name") for c in configs if ((c.get("networking") or {}).get("serviceDomains"))]
    for name in public:
        if name in by_name:
            return by_name[name]
    all_there = bool(configs) and all(c.get("name") in by_name for c in configs)
    if not (complete or all_there):
        return None
    for cfg in configs:
        if cfg.get("name") in by_name:
            return by_name[cfg["name"]]
    return sorted(services, key=lambda s: (s.created_at or now(), s.name))[0]


def _observe(snap: Snap, step, status) -> int:
    latest = status.latest if status is not None else None
    if step is not None:
        step_id, kind, step_status, expected_id, started = step
        if step_status == "queued":
            return 0  # Railway has not been asked yet: what it says is about the past
        if expected_id and latest is not None and latest.id != expected_id:
            return 0  # still the previous deployment
        if (
            kind == "restart"
            and latest is not None
            and latest.status == "CRASHED"
            and started is not None
            and now() - started < RESTART_GRACE
        ):
            # A restart keeps the deployment: it reads CRASHED until the container is back.
            # Telling the customer "crashed" again now would be false.
            return 0
    if status is None:
        return 0  # Railway does not know the service (the reconcile job looks into it)
    if latest is not None:
        insights.remember_deployment(snap.id, latest.id)  # logs tabs read this one
    new = instance_status(
        latest.status if latest else None, snap.status, stopped=bool(latest and latest.stopped)
    )
    if new == snap.status:
        return 0
    reason = None
    if new == "failed":
        reason = "The deployment failed on Railway."
    elif new == "crashed":
        reason = "The app crashed after starting."
    excerpt = _log_excerpt(snap, latest.id) if latest and new in ("failed", "crashed") else None
    changed = _apply(snap.id, step, new, reason, excerpt, latest.id if latest else None)
    if changed and new == "running" and not snap.domain:
        _ensure_domain(snap)
    return changed


def _log_excerpt(snap: Snap, deployment_id: str) -> str | None:
    try:
        rc = client(snap.railway_workspace_id)
        lines = rc.build_logs(deployment_id, limit=LOG_EXCERPT_LINES // 2) + rc.deployment_logs(
            deployment_id, limit=LOG_EXCERPT_LINES // 2
        )
    except rw.RailwayError:
        return None
    return "\n".join(f"{ln.timestamp:%H:%M:%S} {ln.message}" for ln in lines)[:8000] or None


def _apply(
    instance_id: uuid.UUID,
    step,
    new: str,
    reason: str | None = None,
    excerpt: str | None = None,
    deployment_id: str | None = None,
) -> int:
    with db.scope(SYSTEM) as s:
        inst = locked(s, instance_id)
        before = inst.status
        if not states.transition(inst, new, reason, strict=False):
            return 0
        inst.next_poll_at = now() + (fast_poll() if new in states.IN_FLIGHT else SLOW_POLL)
        open_step = s.get(Deployment, step[0], with_for_update=True) if step else None
        if (
            open_step is not None
            and open_step.status in ("queued", "in_progress")
            and open_step.kind in WATCHED_KINDS
            and new in states.DEPLOY_OUTCOMES
        ):
            finish(open_step, "succeeded" if new == "running" else new, reason, excerpt)
            if (
                deployment_id
                and open_step.railway_deployment_id is None
                and not s.scalar(
                    select(Deployment.id).where(Deployment.railway_deployment_id == deployment_id)
                )
            ):
                open_step.railway_deployment_id = deployment_id
        if new in ("running", "failed", "crashed") and before != new:
            notify_outcome(
                s, inst, new, reason, first=open_step.kind == "deploy" if open_step else False
            )
        return 1


def _check_timeout(instance_id: uuid.UUID) -> int:
    """A deploy still not settled after DEPLOY_TIMEOUT_SECONDS fails, with a reason."""
    limit = timedelta(seconds=int(current_app.config["DEPLOY_TIMEOUT_SECONDS"]))
    with db.scope(SYSTEM) as s:
        inst = s.get(Instance, instance_id, populate_existing=True)
        if inst is None or inst.status not in states.IN_FLIGHT or inst.status == "deleting":
            return 0
        since = inst.status_changed_at or inst.created_at
        if since is None or now() - since < limit:
            return 0
        inst = locked(s, instance_id)
        minutes = max(1, round(limit.total_seconds() / 60))
        reason = (
            f"Gave up: still {states.LABELS[inst.status].lower()} after {minutes} "
            f"minute{'s' if minutes != 1 else ''}."
        )
        for step in s.scalars(
            select(Deployment).where(
                Deployment.instance_id == instance_id,
                Deployment.status.in_(("queued", "in_progress")),
            )
        ):
            finish(step, "failed", reason, outcome="timed_out")
        if states.transition(inst, "failed", reason, strict=False):
            inst.next_poll_at = now() + SLOW_POLL
            notify_outcome(s, inst, "failed", reason)
            return 1
        return 0


def check_timeouts() -> int:
    """Every in-flight instance, including those Railway never heard of (no project)."""
    limit = timedelta(seconds=int(current_app.config["DEPLOY_TIMEOUT_SECONDS"]))
    with db.scope(SYSTEM) as s:
        ids = s.scalars(
            select(Instance.id)
            .where(
                Instance.status.in_(states.IN_FLIGHT - {"deleting"}),
                Instance.status_changed_at < now() - limit,
            )
            .limit(500)
        ).all()
    return sum(_check_timeout(i) for i in ids)


def _ensure_domain(snap: Snap) -> None:
    """The Railway-generated domain, created when the template did not bring one."""
    with db.scope(SYSTEM) as s:
        inst = s.get(Instance, snap.id, populate_existing=True)
        if inst is None or inst.domain:
            return
        project_id, env_id, service_id = (
            inst.railway_project_id,
            inst.railway_environment_id,
            inst.railway_service_id,
        )
    try:
        rc = client(snap.railway_workspace_id)
        existing = rc.domains(project_id, env_id, service_id).service_domains
        domain = (
            existing[0]
            if existing
            else rc.create_service_domain(env_id, service_id, project_id=project_id)
        )
    except rw.RailwayError as exc:
        log.warning("domain for instance %s not ready: %s", snap.id, exc)
        return
    with db.scope(SYSTEM) as s:
        s.execute(
            update(Instance)
            .where(Instance.id == snap.id, Instance.domain.is_(None))
            .values(domain=domain.domain)
        )
        versions.touch_workspace(s, snap.tenant_id)  # a bulk UPDATE: no ORM event


# --- webhooks ---------------------------------------------------------------------------------


def refresh_from_webhook(payload: dict[str, Any]) -> int:
    """A Railway webhook named a project: poll its instances now (the refresh task, through
    the outbox). The payload's status is never trusted; only the project id in it is used,
    to know where to look. Returns how many instances will be refreshed."""
    resource = payload.get("resource") if isinstance(payload, dict) else None
    project = (resource or {}).get("project") if isinstance(resource, dict) else None
    project_id = project.get("id") if isinstance(project, dict) else None
    if not isinstance(project_id, str) or not project_id:
        return 0
    with db.scope(SYSTEM) as s:
        ids = s.scalars(
            select(Instance.id).where(
                Instance.railway_project_id == project_id, Instance.status != "deleted"
            )
        ).all()
        if ids:
            s.execute(update(Instance).where(Instance.id.in_(ids)).values(next_poll_at=now()))
            outbox.enqueue(s, "instances.refresh", instance_ids=[str(i) for i in ids])
    return len(ids)
