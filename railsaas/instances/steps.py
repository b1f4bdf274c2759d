"""Running one step of an instance's lifecycle on Railway (deploy, redeploy, restart, stop,
start, delete, variables, domain, suspend, resume), from the `instances.run_step` task.

Database work happens in short transactions between Railway calls: a row lock is never held
while waiting on Railway. Two steps of one instance never run at once (railsaas.instances.lock).

Idempotency: Railway has no idempotency key. The project is named after the instance id
(`project_name`); the step's `started_at` is written before projectCreate is sent, so only a
retry (an earlier attempt may have created it) looks the project up by name. The step turns
`in_progress` before templateDeployV2 is sent: a retry of a step that may have deployed
never re-sends it at once (its services appear only as Railway's workflow runs); the poll
watches the project and sends it again only when nothing appeared after
DEPLOY_RESEND_AFTER_SECONDS. A redeploy whose answer was lost is not sent again either. So a
retry after any timeout converges on one instance, one project, one set of services.

Stop, suspend and the spend cap stop every service of the project (a template's database
bills as much as its app); start and resume start every one again.

A step's `queued` status means "not yet accepted by Railway"; `_accept` moves it to
`in_progress` once Railway has taken the request (and records the deployment Railway named,
if any). Steps whose end Railway reports (WATCHED_KINDS) are finished by the poll
(railsaas.instances.poll); the others finish here (`_done`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from railsaas.catalog.variables import (
    apply_to_serialized,
    specs_of,
    variables_by_service,
)
from railsaas.db import SYSTEM
from railsaas.errors import NotFound as NotFoundError
from railsaas.extensions import db
from railsaas.instances import domains, states
from railsaas.instances.cadence import SLOW_POLL, fast_poll, now
from railsaas.instances.lock import InstanceLock, StepDeferred
from railsaas.models import Deployment, Instance
from railsaas.observability import logging as log_fields
from railsaas.observability import metrics
from railsaas.platform import audit, notifications
from railsaas.railway import errors as rw
from railsaas.railway import pool

log = logging.getLogger(__name__)

PROJECT_PREFIX = "railsaas-"
# Steps that end when Railway reports the instance running (or failed).
WATCHED_KINDS = frozenset({"deploy", "redeploy", "restart", "start", "resume", "variables"})


def client(railway_workspace_id: uuid.UUID | None = None):
    """The Railway client of a pool entry (an instance's `railway_workspace_id`; None: the
    environment's): steps, the poll, reconciliation and the admin views use it."""
    return pool.client_for(railway_workspace_id)


def project_name(instance_id: uuid.UUID | str) -> str:
    """The Railway project of an instance is found by this name: the idempotency key."""
    return f"{PROJECT_PREFIX}{instance_id}"


def instance_id_from_project(name: str) -> uuid.UUID | None:
    if not name.startswith(PROJECT_PREFIX):
        return None
    try:
        return uuid.UUID(name[len(PROJECT_PREFIX) :])
    except ValueError:
        return None


# --- snapshots: what a step needs, read in one short transaction ---------------------------


@dataclass(frozen=True)
class Snap:
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    status: str
    project_id: str | None
    environment_id: str | None
    service_id: str | None
    workflow_id: str | None
    custom_domain: str | None
    domain: str | None
    railway_template_id: str
    serialized_config: dict[str, Any] | None
    setup_config: dict[str, Any] | None
    config: dict[str, Any]
    railway_workspace_id: uuid.UUID | None = None  # the pool entry its project lives in


def snapshot(inst: Instance) -> Snap:
    t = inst.template
    return Snap(
        id=inst.id,
        tenant_id=inst.tenant_id,
        name=inst.name,
        status=inst.status,
        project_id=inst.railway_project_id,
        environment_id=inst.railway_environment_id,
        service_id=inst.railway_service_id,
        workflow_id=inst.railway_workflow_id,
        custom_domain=inst.custom_domain,
        domain=inst.domain,
        railway_template_id=t.railway_template_id,
        serialized_config=t.serialized_config,
        setup_config=t.setup_config,
        config=dict(inst.config or {}),
        railway_workspace_id=inst.railway_workspace_id,
    )


def locked(session: Session, instance_id: uuid.UUID) -> Instance:
    inst = session.scalar(
        select(Instance)
        .where(Instance.id == instance_id)
        .with_for_update(of=Instance)
        .execution_options(populate_existing=True)
    )
    if inst is None:
        raise NotFoundError("instance vanished")
    return inst


# --- running a step --------------------------------------------------------------------------


def run_step(step_id: uuid.UUID) -> str:
    """Perform one queued step. Returns what happened ('skipped' for a finished step).
    Raises RailwayError (retryable ones are retried by the task) or StepDeferred."""
    with db.scope(SYSTEM) as s:
        step = s.get(Deployment, step_id)
        if step is None or step.status not in ("queued", "in_progress"):
            return "skipped"
        kind, instance_id, inst = step.kind, step.instance_id, step.instance
        fields = {
            "template_id": inst.template_id,
            "railway_service_id": inst.railway_service_id,
            "instance_id": instance_id,
            "step_id": step_id,
            "tenant_id": inst.tenant_id,
            "user_id": step.triggered_by,
        }
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise ValueError(f"unknown step kind {kind!r}")
    # One line per run: how it went (a step that ends in this run says so in finish()).
    with (
        log_fields.timed(log, f"instance.{kind}", outcome=_run_outcome, **fields) as act,
        InstanceLock(instance_id),
    ):
        with db.scope(SYSTEM) as s:  # reread under the lock: another run may have done it
            step = s.get(Deployment, step_id, populate_existing=True)
            if step is None or step.status not in ("queued", "in_progress"):
                act.status = "skipped"
                return "skipped"
            inst = s.get(Instance, instance_id, populate_existing=True)
            snap = snapshot(inst)
        result = handler(step_id, snap)
        act.status, act.extra["result"] = "accepted", result  # Railway reports the end
        return result


def _run_outcome(exc: BaseException) -> str | None:
    if isinstance(exc, StepDeferred):
        return "deferred"
    return "retrying" if getattr(exc, "retryable", False) else None


def fail_step(step_id: uuid.UUID, reason: str) -> None:
    """A step gave up (Railway refused it, or retries ran out): the instance fails with the
    reason, unless it has moved on since."""
    with db.scope(SYSTEM) as s:
        step = s.get(Deployment, step_id, with_for_update=True)
        if step is None or step.status not in ("queued", "in_progress"):
            return
        inst = locked(s, step.instance_id)
        finish(step, "failed", reason)
        if step.kind == "delete":
            return  # a delete keeps trying (the reconcile job reports what is left)
        if states.transition(inst, "failed", reason, strict=False):
            notify_outcome(s, inst, "failed", reason)


def _accept(
    step_id: uuid.UUID,
    instance_id: uuid.UUID,
    *,
    status: str | None = None,
    railway_deployment_id: str | None = None,
    **fields,
) -> None:
    """Railway accepted the step: mark it in progress and move the instance."""
    with db.scope(SYSTEM) as s:
        inst = locked(s, instance_id)
        step = s.get(Deployment, step_id, with_for_update=True)
        if step.status == "queued":
            step.status = "in_progress"
        step.started_at = step.started_at or now()
        if railway_deployment_id and not s.scalar(
            select(Deployment.id).where(Deployment.railway_deployment_id == railway_deployment_id)
        ):
            step.railway_deployment_id = railway_deployment_id
        for k, v in fields.items():
            setattr(inst, k, v)
        if status:
            states.transition(inst, status, strict=False)
        inst.next_poll_at = now() + fast_poll()


def _done(
    step_id: uuid.UUID,
    instance_id: uuid.UUID,
    *,
    status: str | None = None,
    logs: str | None = None,
    **fields,
) -> None:
    with db.scope(SYSTEM) as s:
        inst = locked(s, instance_id)
        step = s.get(Deployment, step_id, with_for_update=True)
        step.started_at = step.started_at or now()
        if step.status in ("queued", "in_progress"):
            finish(step, "succeeded", None, logs)
        for k, v in fields.items():
            setattr(inst, k, v)
        if status:
            states.transition(inst, status, strict=False)
        inst.next_poll_at = now() + (fast_poll() if inst.status in states.IN_FLIGHT else SLOW_POLL)


def finish(
    step: Deployment,
    status: str,
    reason: str | None,
    logs: str | None = None,
    *,
    outcome: str | None = None,
) -> None:
    step.status = status
    step.finished_at = now()
    if step.kind in WATCHED_KINDS:  # railsaas_deploys_total{outcome, kind}
        metrics.deploy_finished(outcome or status, kind=step.kind)
    step.started_at = step.started_at or step.finished_at
    if reason:
        step.reason = reason[:2000]
    if logs:
        step.logs = logs
    _log_finished(step, outcome or status)


def _log_finished(step: Deployment, status: str) -> None:
    """The step's line, wherever it ends (this run, the poll, a timeout): the instance is in
    the session already (every caller locked it), so reading it sends no query."""
    inst = step.instance
    duration_ms = round((step.finished_at - step.started_at).total_seconds() * 1000, 1)
    fields = {
        "template_id": inst.template_id,
        "railway_service_id": inst.railway_service_id,
        "instance_id": inst.id,
        "step_id": step.id,
        "tenant_id": inst.tenant_id,
        "user_id": step.triggered_by,
    }
    act = log_fields.current_action()
    if act is not None and act.name == f"instance.{step.kind}":
        act.close(status, **fields)  # the run that ended it: one line, not two
        return
    log.log(
        logging.WARNING if status != "succeeded" else logging.INFO,
        "instance.%s %s",
        step.kind,
        status,
        extra={
            "action": f"instance.{step.kind}",
            "duration_ms": duration_ms,
            "status": status,
            **fields,
        },
    )


# The steps. Each is safe to run again after any failure part-way.


def _step_state(step_id: uuid.UUID) -> tuple[str, datetime | None]:
    with db.scope(SYSTEM) as s:
        step = s.get(Deployment, step_id, populate_existing=True)
        return step.status, step.started_at


def _mark(step_id: uuid.UUID, status: str | None = None) -> None:
    """Record, before a mutation is sent, that it may have been applied from now on."""
    with db.scope(SYSTEM) as s:
        step = s.get(Deployment, step_id, with_for_update=True)
        step.started_at = step.started_at or now()
        if status:
            step.status = status


def _step_deploy(step_id: uuid.UUID, snap: Snap) -> str:
    if snap.status in ("requested", "failed"):
        with db.scope(SYSTEM) as s:
            inst = locked(s, snap.id)
            states.transition(inst, "provisioning", strict=False)
    rc = client(snap.railway_workspace_id)
    step_status, started_at = _step_state(step_id)
    project_id, environment_id = snap.project_id, snap.environment_id
    if not project_id:
        name = project_name(snap.id)
        # Only an earlier attempt can have created it: a first attempt never pages through
        # the workspace's projects.
        found = rc.find_project(name) if started_at else None
        if found is None:
            _mark(step_id)
            project = rc.create_project(name, description=f"RailSaaS instance {snap.name}")
        else:
            project = rc.project(found.id)
        env = project.environment() or (project.environments[0] if project.environments else None)
        project_id, environment_id = project.id, env.id if env else None
        with db.scope(SYSTEM) as s:
            inst = locked(s, snap.id)
            inst.railway_project_id, inst.railway_environment_id = project_id, environment_id
    if snap.status in ("deploying", "running", "crashed") and snap.workflow_id:
        return "already deployed"
    project = rc.project(project_id)
    if not environment_id:
        env = project.environment() or (project.environments[0] if project.environments else None)
        environment_id = env.id if env else None
    workflow_id = snap.workflow_id
    if project.services or step_status == "in_progress":
        # Sent before: it went through, or its answer was lost and its services are still
        # to appear. The poll watches the project (and re-sends only after a long wait).
        log.info("instance %s: template deploy already sent; watching the project", snap.id)
    else:
        specs = specs_of(snap.setup_config)
        config = apply_to_serialized(snap.serialized_config, specs, snap.config)
        _mark(step_id, "in_progress")
        try:
            result = rc.deploy_template(
                snap.railway_template_id,
                config,
                project_id=project_id,
                environment_id=environment_id,
            )
        except rw.Unavailable as exc:
            if not exc.maybe_applied:
                _mark(step_id, "queued")  # surely not sent: a retry sends it
                raise
            log.warning("instance %s: templateDeployV2 answer lost; watching the project", snap.id)
            result = None
        except rw.RailwayError:
            _mark(step_id, "queued")
            raise
        workflow_id = result.workflow_id if result else None
    _accept(
        step_id,
        snap.id,
        status="deploying",
        railway_project_id=project_id,
        railway_environment_id=environment_id,
        railway_workflow_id=workflow_id,
    )
    return "deploying"


def _latest(snap: Snap):
    if not (snap.environment_id and snap.service_id):
        return None
    return client(snap.railway_workspace_id).latest_deployment(snap.environment_id, snap.service_id)


def _new_deployment(rc, environment_id: str, service_id: str, latest) -> str | None:
    """Start the service again: redeploy its latest deployment when Railway allows it
    (canRedeploy), else deploy from its source (serviceInstanceDeployV2)."""
    if latest is not None and latest.can_redeploy:
        return rc.redeploy_deployment(latest.id).id
    return rc.deploy_service(environment_id, service_id)


def _needs_start(latest) -> bool:
    return latest is None or latest.stopped or latest.status in ("REMOVED", "REMOVING", "SKIPPED")


def _step_redeploy(step_id: uuid.UUID, snap: Snap) -> str:
    """redeploy: a new deployment of the main service like the latest one. start, resume:
    every service of the project that is stopped starts again (main service last known)."""
    if not snap.service_id:
        if snap.project_id and snap.status not in ("failed", "requested"):
            return _defer_until_service(step_id)  # deployed; the poll is finding the service
        return _step_deploy(step_id, snap)  # Railway never got (all of) the first deploy
    kind = _kind(step_id)
    target = {
        "redeploy": "redeploying",
        "start": "starting",
        "resume": "starting",
        "restart": "redeploying",
    }
    rc = client(snap.railway_workspace_id)
    if kind == "redeploy":
        pairs = [(snap.environment_id, snap.service_id)]
    else:
        pairs = [(snap.environment_id, svc.id) for svc in rc.project(snap.project_id).services]
        if (snap.environment_id, snap.service_id) not in pairs:
            pairs.append((snap.environment_id, snap.service_id))
    statuses = rc.service_statuses(pairs)
    new_id = None
    for env_id, service_id in pairs:
        st = statuses.get((env_id, service_id))
        latest = st.latest if st is not None else None
        main = service_id == snap.service_id
        if kind != "redeploy" and not _needs_start(latest):
            # Running or on its way: started already (by an earlier attempt of this step).
            if main and latest is not None:
                new_id = latest.id
            continue
        try:
            made = _new_deployment(rc, env_id, service_id, latest)
        except rw.Unavailable as exc:
            if not exc.maybe_applied:
                raise
            # Maybe deployed: never sent twice. The poll sees the outcome.
            log.warning("instance %s: redeploy answer lost for service %s", snap.id, service_id)
            made = None
        if main:
            new_id = made
    _accept(step_id, snap.id, status=target.get(kind), railway_deployment_id=new_id)
    return "accepted"


def _defer_until_service(step_id: uuid.UUID) -> str:
    raise StepDeferred(f"step {step_id}: the instance has no Railway service yet")


def _kind(step_id: uuid.UUID) -> str:
    with db.scope(SYSTEM) as s:
        return s.get(Deployment, step_id).kind


def _step_restart(step_id: uuid.UUID, snap: Snap) -> str:
    latest = _latest(snap)
    if latest is None or latest.stopped or latest.status in ("REMOVED", "REMOVING"):
        return _step_redeploy(step_id, snap)  # nothing to restart: start it again
    client(snap.railway_workspace_id).restart_deployment(latest.id)
    _accept(step_id, snap.id, status="redeploying")
    return "accepted"


def _stop_on_railway(snap: Snap) -> None:
    """Stop every service of the project: a template's database keeps running (and billing)
    otherwise. One batched status request, then one stop per running deployment."""
    rc = client(snap.railway_workspace_id)
    if not (snap.project_id and snap.environment_id):
        return
    pairs = [(snap.environment_id, s.id) for s in rc.project(snap.project_id).services]
    if snap.service_id and (snap.environment_id, snap.service_id) not in pairs:
        pairs.append((snap.environment_id, snap.service_id))
    for status in rc.service_statuses(pairs).values():
        latest = status.latest if status is not None else None
        if (
            latest is not None
            and not latest.stopped
            and latest.status not in ("REMOVED", "REMOVING", "FAILED", "SKIPPED")
        ):
            rc.stop_deployment(latest.id)


def _step_stop(step_id: uuid.UUID, snap: Snap) -> str:
    _stop_on_railway(snap)
    _done(step_id, snap.id, status="stopped")
    return "stopped"


def _step_suspend(step_id: uuid.UUID, snap: Snap) -> str:
    if snap.status != "suspended":
        _done(step_id, snap.id)  # resumed (or deleted) before we got here: nothing to stop
        return "skipped"
    _stop_on_railway(snap)
    _done(step_id, snap.id)
    return "suspended"


def _step_delete(step_id: uuid.UUID, snap: Snap) -> str:
    rc = client(snap.railway_workspace_id)
    project_id = snap.project_id
    if not project_id:  # a create whose answer was lost may still have made one
        found = rc.find_project(project_name(snap.id))
        project_id = found.id if found else None
    if project_id:
        rc.delete_project(project_id)  # an already deleted project counts as deleted
    _done(step_id, snap.id, status="deleted", next_poll_at=None)
    with db.scope(SYSTEM) as s:
        audit.record(
            s,
            "instance.deleted_on_railway",
            target_type="instance",
            target_id=snap.id,
            tenant_id=snap.tenant_id,
            actor_user_id=None,
            details={"railway_project_id": project_id},
        )
    return "deleted"


def _step_variables(step_id: uuid.UUID, snap: Snap) -> str:
    if not (snap.project_id and snap.environment_id and snap.service_id):
        return _defer_until_service(step_id)
    rc = client(snap.railway_workspace_id)
    specs = specs_of(snap.setup_config)
    by_service = variables_by_service(snap.serialized_config, specs, snap.config)
    project = rc.project(snap.project_id)
    ids = {svc.name: svc.id for svc in project.services}
    for service_name, values in by_service.items():
        service_id = ids.get(service_name, snap.service_id)
        # Skip Railway's own redeploy: we redeploy below and so know the new deployment.
        rc.upsert_variables(
            snap.project_id, snap.environment_id, values, service_id=service_id, skip_deploys=True
        )
    if snap.status == "stopped":
        _done(step_id, snap.id)  # takes effect when started
        return "saved"
    new_id = _new_deployment(rc, snap.environment_id, snap.service_id, _latest(snap))
    _accept(step_id, snap.id, status="redeploying", railway_deployment_id=new_id)
    return "redeploying"


def _step_domain(step_id: uuid.UUID, snap: Snap) -> str:
    if not (snap.project_id and snap.environment_id and snap.service_id and snap.custom_domain):
        _done(step_id, snap.id)
        return "skipped"
    domain = client(snap.railway_workspace_id).create_custom_domain(
        snap.project_id, snap.environment_id, snap.service_id, snap.custom_domain
    )
    # The records the Settings tab shows are Railway's own, kept with the instance.
    domains.store(snap.id, domain)
    records = "\n".join(f"{r.type_name} {r.fqdn} -> {r.required_value}" for r in domain.dns_records)
    _done(step_id, snap.id, logs=("DNS records to create:\n" + records) if records else None)
    return "domain added"


_HANDLERS = {
    "deploy": _step_deploy,
    "redeploy": _step_redeploy,
    "start": _step_redeploy,
    "resume": _step_redeploy,
    "restart": _step_restart,
    "stop": _step_stop,
    "suspend": _step_suspend,
    "delete": _step_delete,
    "variables": _step_variables,
    "domain": _step_domain,
}


# --- telling the customer -------------------------------------------------------------------


def notify_outcome(
    session: Session, inst: Instance, status: str, reason: str | None, first: bool = False
) -> None:
    """An instance is running, failed or crashed (a step gave up, or the poll saw it)."""
    link = f"/instances/{inst.id}"
    if status == "running":
        notifications.notify_tenant(
            session,
            inst.tenant_id,
            kind="instance.running",
            title=f"{inst.name} is running",
            link=link,
            body="Your app deployed successfully." if first else None,
        )
        return
    title = f"{inst.name} crashed" if status == "crashed" else f"{inst.name} failed to deploy"
    notifications.notify_tenant(
        session,
        inst.tenant_id,
        kind=f"instance.{status}",
        title=title,
        body=reason,
        link=link,
        email_kind="instances/status",
        email_to_user=inst.user_id,
    )
