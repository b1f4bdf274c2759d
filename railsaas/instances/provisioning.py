"""Doing the lifecycle on Railway: the steps (deploy, redeploy, restart, stop, start, delete,
variables, domain, suspend, resume), the batched poll that watches them, and reconciliation.

Called from Celery tasks (railsaas.tasks.instances), never from a request. Database work
happens in short transactions between Railway calls: a lock is never held while waiting on
Railway.

Idempotency: Railway has no idempotency key. The project is named after the instance id and
looked up before one is created; the template deploy is skipped when the project already has
services; a step that finished is never run again. So a retry after any timeout converges on
one instance, one project.

A step's `queued` status means "not yet accepted by Railway"; the poll only trusts what
Railway reports for an instance once its open step is `in_progress` (accepted), and, where
Railway named the new deployment, only reports about that deployment: an earlier deployment's
SUCCESS must not finish a redeploy that has not started yet.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from railsaas.catalog.variables import (
    apply_to_serialized,
    specs_of,
    variables_by_service,
)
from railsaas.db import SYSTEM
from railsaas.errors import NotFound as NotFoundError
from railsaas.errors import ServiceError
from railsaas.extensions import db, redis_client
from railsaas.instances import states
from railsaas.models import Deployment, Instance
from railsaas.observability import metrics
from railsaas.platform import audit, notifications, outbox
from railsaas.railway import errors as rw
from railsaas.railway import railway_client
from railsaas.railway.status import instance_status

log = logging.getLogger(__name__)

PROJECT_PREFIX = "railsaas-"
# What an instance's status promises: at most 10 s old while it changes, 5 minutes once
# settled. A due instance waits for the next beat (every POLL_INTERVAL) to be claimed, so
# each is due one interval before its promise runs out.
# How often beat runs the Railway status poll (railsaas.tasks schedules it).
POLL_INTERVAL = timedelta(seconds=3)
FRESH_CHANGING = timedelta(seconds=10)
FRESH_SETTLED = timedelta(minutes=5)
FAST_POLL = timedelta(seconds=3)  # well within FRESH_CHANGING: pages see progress soon
SLOW_POLL = FRESH_SETTLED - POLL_INTERVAL
POLL_BATCH = 100
LOCK_TTL_MS = 10 * 60 * 1000
LOG_EXCERPT_LINES = 40
RECONCILE_KEY = "reconcile:findings"
# Steps that end when Railway reports the instance running (or failed).
WATCHED_KINDS = frozenset({"deploy", "redeploy", "restart", "start", "resume", "variables"})


class StepDeferred(Exception):
    """The step cannot run now (another step of the instance holds its lock); retry soon."""


def now() -> datetime:
    return datetime.now(UTC)


def client():
    return railway_client()


def project_name(instance_id: uuid.UUID | str) -> str:
    """The Railway project of an instance is found by this name: the idempotency key."""
    return f"{PROJECT_PREFIX}{instance_id}"


def instance_id_from_project(name: str) -> uuid.UUID | None:
    if not name.startswith(PROJECT_PREFIX):
        return None
    try:
        return uuid.UUID(name[len(PROJECT_PREFIX):])
    except ValueError:
        return None


# --- a per-instance lock, so two steps of one instance never talk to Railway at once -------

# The lock lives this long unless its holder renews it (every third of it, from a thread),
# so a worker killed mid-step (SIGKILL, out of memory) leaves the instance locked for
# seconds, not minutes: when the broker hands the step to another worker, it can run.
LOCK_TTL_MS = 10_000
_RENEW = """if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"""
_RELEASE = """if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1]) else return 0 end"""


class _InstanceLock:
    def __init__(self, instance_id: uuid.UUID) -> None:
        self.key = f"instance-lock:{instance_id}"
        self.token = uuid.uuid4().hex
        self._redis: redis.Redis | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self):
        try:
            r = redis_client()
            if not r.set(self.key, self.token, nx=True, px=LOCK_TTL_MS):
                raise StepDeferred(str(self.key))
        except redis.RedisError:
            log.warning("instance lock unavailable; running without it")
            return self
        self._redis = r
        self._renewer = threading.Thread(target=self._renew, name=f"lock-{self.key}",
                                         daemon=True)
        self._renewer.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(LOCK_TTL_MS / 3000):
            try:
                if not self._redis.eval(_RENEW, 1, self.key, self.token, LOCK_TTL_MS):
                    log.warning("instance lock %s lost while held", self.key)
                    return
            except redis.RedisError:
                pass  # Redis is away: try again at the next beat

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        if self._redis is not None:
            with contextlib.suppress(redis.RedisError):
                self._redis.eval(_RELEASE, 1, self.key, self.token)


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


def _snap(inst: Instance) -> Snap:
    t = inst.template
    return Snap(id=inst.id, tenant_id=inst.tenant_id, name=inst.name, status=inst.status,
                project_id=inst.railway_project_id, environment_id=inst.railway_environment_id,
                service_id=inst.railway_service_id, workflow_id=inst.railway_workflow_id,
                custom_domain=inst.custom_domain, domain=inst.domain,
                railway_template_id=t.railway_template_id,
                serialized_config=t.serialized_config, setup_config=t.setup_config,
                config=dict(inst.config or {}))


def _locked(session: Session, instance_id: uuid.UUID) -> Instance:
    inst = session.scalar(select(Instance).where(Instance.id == instance_id)
                          .with_for_update(of=Instance)
                          .execution_options(populate_existing=True))
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
        kind, instance_id = step.kind, step.instance_id
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise ValueError(f"unknown step kind {kind!r}")
    with _InstanceLock(instance_id):
        with db.scope(SYSTEM) as s:  # reread under the lock: another run may have done it
            step = s.get(Deployment, step_id, populate_existing=True)
            if step is None or step.status not in ("queued", "in_progress"):
                return "skipped"
            inst = s.get(Instance, instance_id, populate_existing=True)
            snap = _snap(inst)
        return handler(step_id, snap)


def fail_step(step_id: uuid.UUID, reason: str) -> None:
    """A step gave up (Railway refused it, or retries ran out): the instance fails with the
    reason, unless it has moved on since."""
    with db.scope(SYSTEM) as s:
        step = s.get(Deployment, step_id, with_for_update=True)
        if step is None or step.status not in ("queued", "in_progress"):
            return
        inst = _locked(s, step.instance_id)
        _finish(step, "failed", reason)
        if step.kind == "delete":
            return  # a delete keeps trying (the reconcile job reports what is left)
        if states.transition(inst, "failed", reason, strict=False):
            _notify_outcome(s, inst, "failed", reason)


def _accept(step_id: uuid.UUID, instance_id: uuid.UUID, *, status: str | None = None,
            railway_deployment_id: str | None = None, **fields) -> None:
    """Railway accepted the step: mark it in progress and move the instance."""
    with db.scope(SYSTEM) as s:
        inst = _locked(s, instance_id)
        step = s.get(Deployment, step_id, with_for_update=True)
        if step.status == "queued":
            step.status = "in_progress"
        step.started_at = step.started_at or now()
        if railway_deployment_id and not s.scalar(select(Deployment.id).where(
                Deployment.railway_deployment_id == railway_deployment_id)):
            step.railway_deployment_id = railway_deployment_id
        for k, v in fields.items():
            setattr(inst, k, v)
        if status:
            states.transition(inst, status, strict=False)
        inst.next_poll_at = now() + FAST_POLL


def _done(step_id: uuid.UUID, instance_id: uuid.UUID, *, status: str | None = None,
          logs: str | None = None, **fields) -> None:
    with db.scope(SYSTEM) as s:
        inst = _locked(s, instance_id)
        step = s.get(Deployment, step_id, with_for_update=True)
        step.started_at = step.started_at or now()
        if step.status in ("queued", "in_progress"):
            _finish(step, "succeeded", None, logs)
        for k, v in fields.items():
            setattr(inst, k, v)
        if status:
            states.transition(inst, status, strict=False)
        inst.next_poll_at = now() + (FAST_POLL if inst.status in states.IN_FLIGHT
                                     else SLOW_POLL)


def _finish(step: Deployment, status: str, reason: str | None, logs: str | None = None, *,
            outcome: str | None = None) -> None:
    step.status = status
    step.finished_at = now()
    if step.kind in WATCHED_KINDS:  # railsaas_deploys_total{outcome, kind}
        metrics.deploy_finished(outcome or status, kind=step.kind)
    step.started_at = step.started_at or step.finished_at
    if reason:
        step.reason = reason[:2000]
    if logs:
        step.logs = logs


# The steps. Each is safe to run again after any failure part-way.

def _step_deploy(step_id: uuid.UUID, snap: Snap) -> str:
    if snap.status in ("requested", "failed"):
        with db.scope(SYSTEM) as s:
            inst = _locked(s, snap.id)
            states.transition(inst, "provisioning", strict=False)
    rc = client()
    project_id, environment_id = snap.project_id, snap.environment_id
    if not project_id:
        name = project_name(snap.id)
        found = rc.find_project(name)  # a previous attempt may have created it
        project = rc.project(found.id) if found else rc.create_project(
            name, description=f"RailSaaS instance {snap.name}")
        env = project.environment() or (project.environments[0] if project.environments
                                        else None)
        project_id, environment_id = project.id, env.id if env else None
        with db.scope(SYSTEM) as s:
            inst = _locked(s, snap.id)
            inst.railway_project_id, inst.railway_environment_id = project_id, environment_id
    if snap.status in ("deploying", "running", "crashed") and snap.workflow_id:
        return "already deployed"
    project = rc.project(project_id)
    if not environment_id:
        env = project.environment() or (project.environments[0] if project.environments
                                        else None)
        environment_id = env.id if env else None
    workflow_id = snap.workflow_id
    if not project.services:  # else the deploy went through and only its answer was lost
        specs = specs_of(snap.setup_config)
        config = apply_to_serialized(snap.serialized_config, specs, snap.config)
        result = rc.deploy_template(snap.railway_template_id, config, project_id=project_id,
                                    environment_id=environment_id)
        workflow_id = result.workflow_id
    _accept(step_id, snap.id, status="deploying", railway_project_id=project_id,
            railway_environment_id=environment_id, railway_workflow_id=workflow_id)
    return "deploying"


def _latest(snap: Snap):
    if not (snap.environment_id and snap.service_id):
        return None
    return client().latest_deployment(snap.environment_id, snap.service_id)


def _step_redeploy(step_id: uuid.UUID, snap: Snap) -> str:
    """redeploy, start, resume: a new deployment like the latest one."""
    if not snap.service_id:
        if snap.project_id and snap.status not in ("failed", "requested"):
            return _defer_until_service(step_id)  # deployed; the poll is finding the service
        return _step_deploy(step_id, snap)  # Railway never got (all of) the first deploy
    latest = _latest(snap)
    target = {"redeploy": "redeploying", "start": "starting", "resume": "starting"}
    if latest is None:
        client().redeploy_service(snap.environment_id, snap.service_id)
        new_id = None
    else:
        new_id = client().redeploy_deployment(latest.id).id
    kind = _kind(step_id)
    _accept(step_id, snap.id, status=target.get(kind), railway_deployment_id=new_id)
    return "accepted"


def _defer_until_service(step_id: uuid.UUID) -> str:
    raise StepDeferred(f"step {step_id}: the instance has no Railway service yet")


def _kind(step_id: uuid.UUID) -> str:
    with db.scope(SYSTEM) as s:
        return s.get(Deployment, step_id).kind


def _step_restart(step_id: uuid.UUID, snap: Snap) -> str:
    latest = _latest(snap)
    if latest is None:
        return _step_redeploy(step_id, snap)
    client().restart_deployment(latest.id)
    _accept(step_id, snap.id, status="redeploying")
    return "accepted"


def _stop_on_railway(snap: Snap) -> None:
    """Stop what runs: the main service, or every service while it is not known yet."""
    rc = client()
    if snap.service_id and snap.environment_id:
        pairs = [(snap.environment_id, snap.service_id)]
    elif snap.project_id and snap.environment_id:
        pairs = [(snap.environment_id, s.id) for s in rc.project(snap.project_id).services]
    else:
        pairs = []
    for env_id, service_id in pairs:
        latest = rc.latest_deployment(env_id, service_id)
        if latest is not None and latest.status not in ("REMOVED", "FAILED", "SKIPPED"):
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
    rc = client()
    project_id = snap.project_id
    if not project_id:  # a create whose answer was lost may still have made one
        found = rc.find_project(project_name(snap.id))
        project_id = found.id if found else None
    if project_id:
        rc.delete_project(project_id)  # an already deleted project counts as deleted
    _done(step_id, snap.id, status="deleted", next_poll_at=None)
    with db.scope(SYSTEM) as s:
        audit.record(s, "instance.deleted_on_railway", target_type="instance",
                     target_id=snap.id, tenant_id=snap.tenant_id, actor_user_id=None,
                     details={"railway_project_id": project_id})
    return "deleted"


def _step_variables(step_id: uuid.UUID, snap: Snap) -> str:
    if not (snap.project_id and snap.environment_id and snap.service_id):
        return _defer_until_service(step_id)
    rc = client()
    specs = specs_of(snap.setup_config)
    by_service = variables_by_service(snap.serialized_config, specs, snap.config)
    project = rc.project(snap.project_id)
    ids = {svc.name: svc.id for svc in project.services}
    for service_name, values in by_service.items():
        service_id = ids.get(service_name, snap.service_id)
        # Skip Railway's own redeploy: we redeploy below and so know the new deployment.
        rc.upsert_variables(snap.project_id, snap.environment_id, values,
                            service_id=service_id, skip_deploys=True)
    if snap.status == "stopped":
        _done(step_id, snap.id)  # takes effect when started
        return "saved"
    latest = _latest(snap)
    new_id = rc.redeploy_deployment(latest.id).id if latest else None
    if latest is None:
        rc.redeploy_service(snap.environment_id, snap.service_id)
    _accept(step_id, snap.id, status="redeploying", railway_deployment_id=new_id)
    return "redeploying"


def _step_domain(step_id: uuid.UUID, snap: Snap) -> str:
    if not (snap.project_id and snap.environment_id and snap.service_id and snap.custom_domain):
        _done(step_id, snap.id)
        return "skipped"
    domain = client().create_custom_domain(snap.project_id, snap.environment_id,
                                           snap.service_id, snap.custom_domain)
    records = "\n".join(f"{r.type_name} {r.fqdn} -> {r.required_value}"
                        for r in domain.dns_records)
    _done(step_id, snap.id, logs=("DNS records to create:\n" + records) if records else None)
    return "domain added"


_HANDLERS = {
    "deploy": _step_deploy, "redeploy": _step_redeploy, "start": _step_redeploy,
    "resume": _step_redeploy, "restart": _step_restart, "stop": _step_stop,
    "suspend": _step_suspend, "delete": _step_delete, "variables": _step_variables,
    "domain": _step_domain,
}


# --- watching: the batched poll ------------------------------------------------------------

def _due(session: Session, limit: int, only: list[uuid.UUID] | None) -> list[Instance]:
    stmt = select(Instance).where(Instance.status != "deleted")
    if only is not None:
        stmt = stmt.where(Instance.id.in_(only))
    else:
        stmt = stmt.where(Instance.next_poll_at <= now())
    rows = list(session.scalars(stmt.order_by(Instance.next_poll_at).limit(limit)
                                .with_for_update(of=Instance, skip_locked=True)).unique())
    for inst in rows:  # claimed: a concurrent poll skips them until they are due again
        inst.next_poll_at = now() + (FAST_POLL if inst.status in states.IN_FLIGHT
                                     else SLOW_POLL)
    return rows


def _open_steps(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, Deployment]:
    if not ids:
        return {}
    rows = session.scalars(select(Deployment).where(
        Deployment.instance_id.in_(ids), Deployment.status.in_(("queued", "in_progress")))
        .order_by(Deployment.created_at)).all()
    return {d.instance_id: d for d in rows}  # the newest open step wins


def poll(limit: int = POLL_BATCH, only: list[uuid.UUID] | None = None) -> dict[str, int]:
    """One round: claim due instances, ask Railway about all of them in batched requests,
    apply what it says, fail what is stuck past the deploy timeout."""
    counts = {"polled": 0, "changed": 0, "timed_out": 0}
    with db.scope(SYSTEM) as s:
        rows = _due(s, limit, only)
        snaps = [_snap(i) for i in rows]
        steps = {k: (v.id, v.kind, v.status, v.railway_deployment_id, v.started_at)
                 for k, v in _open_steps(s, [i.id for i in rows]).items()}
    if not snaps:
        return counts
    counts["polled"] = len(snaps)
    rc = client()
    with_service = [x for x in snaps if x.service_id and x.environment_id]
    statuses: dict = {}
    if with_service:
        try:
            statuses = rc.service_statuses([(x.environment_id, x.service_id)
                                            for x in with_service])
        except rw.RailwayError as exc:
            log.warning("batch status poll failed: %s", exc)
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
    counts["timed_out"] = check_timeouts()
    return counts


def _discover_service(snap: Snap, step) -> int:
    """After templateDeployV2: wait for the workflow, then pick the instance's main service."""
    rc = client()
    if snap.workflow_id:
        wf = rc.workflow_status(snap.workflow_id)
        if wf.failed:
            return _apply(snap.id, step, "failed", f"Railway could not deploy the template: "
                          f"{wf.error or 'workflow error'}")
    project = rc.project(snap.project_id)
    if not project.services:
        return 0
    service = _main_service(project.services, snap.serialized_config)
    with db.scope(SYSTEM) as s:
        inst = _locked(s, snap.id)
        if inst.railway_service_id is None:
            inst.railway_service_id = service.id
        inst.next_poll_at = now()
    return 0


def _main_service(services, serialized: dict | None):
    """The service customers reach: the one the template gives a domain, else the first."""
    configs = list(((serialized or {}).get("services") or {}).values())
    by_name = {svc.name: svc for svc in services}
    for cfg in configs:
        networking = (cfg or {}).get("networking") or {}
        if networking.get("serviceDomains") and cfg.get("name") in by_name:
            return by_name[cfg["name"]]
    for cfg in configs:
        if (cfg or {}).get("name") in by_name:
            return by_name[cfg["name"]]
    return sorted(services, key=lambda s: (s.created_at or now(), s.name))[0]


def _observe(snap: Snap, step, status) -> int:
    latest = status.latest if status is not None else None
    if step is not None:
        step_id, kind, step_status, expected_id, _started = step
        if step_status == "queued":
            return 0  # Railway has not been asked yet: what it says is about the past
        if expected_id and latest is not None and latest.id != expected_id:
            return 0  # still the previous deployment
    if status is None:
        return 0  # Railway does not know the service (the reconcile job looks into it)
    new = instance_status(latest.status if latest else None, snap.status)
    if new == snap.status:
        return 0
    reason = None
    if new == "failed":
        reason = "The deployment failed on Railway."
    elif new == "crashed":
        reason = "The app crashed after starting."
    excerpt = _log_excerpt(latest.id) if latest and new in ("failed", "crashed") else None
    changed = _apply(snap.id, step, new, reason, excerpt, latest.id if latest else None)
    if changed and new == "running" and not snap.domain:
        _ensure_domain(snap)
    return changed


def _log_excerpt(deployment_id: str) -> str | None:
    try:
        rc = client()
        lines = rc.build_logs(deployment_id, limit=LOG_EXCERPT_LINES // 2) + \
            rc.deployment_logs(deployment_id, limit=LOG_EXCERPT_LINES // 2)
    except rw.RailwayError:
        return None
    return "\n".join(f"{ln.timestamp:%H:%M:%S} {ln.message}" for ln in lines)[:8000] or None


def _apply(instance_id: uuid.UUID, step, new: str, reason: str | None = None,
           excerpt: str | None = None, deployment_id: str | None = None) -> int:
    with db.scope(SYSTEM) as s:
        inst = _locked(s, instance_id)
        before = inst.status
        if not states.transition(inst, new, reason, strict=False):
            return 0
        inst.next_poll_at = now() + (FAST_POLL if new in states.IN_FLIGHT else SLOW_POLL)
        open_step = s.get(Deployment, step[0], with_for_update=True) if step else None
        if open_step is not None and open_step.status in ("queued", "in_progress") \
                and open_step.kind in WATCHED_KINDS and new in states.DEPLOY_OUTCOMES:
            _finish(open_step, "succeeded" if new == "running" else new, reason, excerpt)
            if deployment_id and open_step.railway_deployment_id is None and not s.scalar(
                    select(Deployment.id).where(
                        Deployment.railway_deployment_id == deployment_id)):
                open_step.railway_deployment_id = deployment_id
        if new in ("running", "failed", "crashed") and before != new:
            _notify_outcome(s, inst, new, reason, first=open_step.kind == "deploy"
                            if open_step else False)
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
        inst = _locked(s, instance_id)
        minutes = max(1, round(limit.total_seconds() / 60))
        reason = (f"Gave up: still {states.LABELS[inst.status].lower()} after {minutes} "
                  f"minute{'s' if minutes != 1 else ''}.")
        for step in s.scalars(select(Deployment).where(
                Deployment.instance_id == instance_id,
                Deployment.status.in_(("queued", "in_progress")))):
            _finish(step, "failed", reason, outcome="timed_out")
        if states.transition(inst, "failed", reason, strict=False):
            inst.next_poll_at = now() + SLOW_POLL
            _notify_outcome(s, inst, "failed", reason)
            return 1
        return 0


def check_timeouts() -> int:
    """Every in-flight instance, including those Railway never heard of (no project)."""
    limit = timedelta(seconds=int(current_app.config["DEPLOY_TIMEOUT_SECONDS"]))
    with db.scope(SYSTEM) as s:
        ids = s.scalars(select(Instance.id).where(
            Instance.status.in_(states.IN_FLIGHT - {"deleting"}),
            Instance.status_changed_at < now() - limit).limit(500)).all()
    return sum(_check_timeout(i) for i in ids)


def _ensure_domain(snap: Snap) -> None:
    """The Railway-generated domain, created when the template did not bring one."""
    with db.scope(SYSTEM) as s:
        inst = s.get(Instance, snap.id, populate_existing=True)
        if inst is None or inst.domain:
            return
        project_id, env_id, service_id = (inst.railway_project_id,
                                          inst.railway_environment_id, inst.railway_service_id)
    try:
        rc = client()
        existing = rc.domains(project_id, env_id, service_id).service_domains
        domain = existing[0] if existing else rc.create_service_domain(
            env_id, service_id, project_id=project_id)
    except rw.RailwayError as exc:
        log.warning("domain for instance %s not ready: %s", snap.id, exc)
        return
    with db.scope(SYSTEM) as s:
        s.execute(update(Instance).where(Instance.id == snap.id, Instance.domain.is_(None))
                  .values(domain=domain.domain))


def _notify_outcome(session: Session, inst: Instance, status: str, reason: str | None,
                    first: bool = False) -> None:
    link = f"/instances/{inst.id}"
    if status == "running":
        notifications.notify_tenant(
            session, inst.tenant_id, kind="instance.running",
            title=f"{inst.name} is running", link=link,
            body="Your app deployed successfully." if first else None)
        return
    title = (f"{inst.name} crashed" if status == "crashed"
             else f"{inst.name} failed to deploy")
    notifications.notify_tenant(
        session, inst.tenant_id, kind=f"instance.{status}", title=title, body=reason,
        link=link, email_kind="instances/status", email_to_user=inst.user_id)


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
        ids = s.scalars(select(Instance.id).where(Instance.railway_project_id == project_id,
                                                  Instance.status != "deleted")).all()
        if ids:
            s.execute(update(Instance).where(Instance.id.in_(ids)).values(next_poll_at=now()))
            outbox.enqueue(s, "instances.refresh", instance_ids=[str(i) for i in ids])
    return len(ids)


# --- reconciliation ---------------------------------------------------------------------------

def reconcile() -> dict[str, Any]:
    """Compare Railway's projects with our instances. Nothing is changed: findings are kept
    for admins, who choose the fix (railsaas.blueprints.admin.instances)."""
    projects = client().projects()
    by_id = {p.id: p for p in projects}
    ours = [p for p in projects if p.name.startswith(PROJECT_PREFIX)]
    with db.scope(SYSTEM) as s:
        rows = s.execute(select(Instance.id, Instance.name, Instance.tenant_id,
                                Instance.status, Instance.railway_project_id)).all()
    instances = {r.id: r for r in rows}
    findings = []
    for p in ours:
        iid = instance_id_from_project(p.name)
        inst = instances.get(iid) if iid else None
        if inst is None or inst.status == "deleted" or (
                inst.railway_project_id and inst.railway_project_id != p.id):
            findings.append({
                "kind": "orphan_project", "project_id": p.id, "project_name": p.name,
                "instance_id": str(iid) if iid else None,
                "detail": "No live instance uses this Railway project."})
    for r in rows:
        if r.railway_project_id and r.status not in ("deleted", "deleting") \
                and r.railway_project_id not in by_id:
            findings.append({
                "kind": "missing_project", "project_id": r.railway_project_id,
                "instance_id": str(r.id), "instance_name": r.name,
                "tenant_id": str(r.tenant_id), "status": r.status,
                "detail": "The instance's Railway project no longer exists."})
    report = {"checked_at": now().isoformat(), "projects": len(projects),
              "instances": len(rows), "findings": findings}
    try:
        redis_client().set(RECONCILE_KEY, json.dumps(report))
    except redis.RedisError:
        log.warning("could not store reconcile findings")
    return report


def reconcile_report() -> dict[str, Any] | None:
    try:
        raw = redis_client().get(RECONCILE_KEY)
    except redis.RedisError:
        return None
    return json.loads(raw) if raw else None


def drop_finding(project_id: str) -> None:
    report = reconcile_report()
    if not report:
        return
    report["findings"] = [f for f in report["findings"] if f["project_id"] != project_id]
    with contextlib.suppress(redis.RedisError):
        redis_client().set(RECONCILE_KEY, json.dumps(report))


def fix_orphan_project(project_id: str) -> None:
    """Admin's fix for a project no instance uses: delete it on Railway."""
    with db.scope(SYSTEM) as s:
        live = s.scalar(select(Instance.id).where(Instance.railway_project_id == project_id,
                                                  Instance.status != "deleted"))
    if live is not None:
        raise ServiceError("A live instance uses this project; it is not an orphan.",
                           status=409, code="conflict")
    client().delete_project(project_id)
    drop_finding(project_id)


def fix_missing_project(session: Session, instance_id: uuid.UUID, fix: str) -> Instance:
    """Admin's fix for an instance whose project is gone: 'redeploy' (a new project, same
    settings) or 'delete' (mark it deleted). Runs in the admin's transaction."""
    inst = session.scalar(select(Instance).where(Instance.id == instance_id)
                          .with_for_update(of=Instance))
    if inst is None:
        raise NotFoundError("No such instance.")
    project_id = inst.railway_project_id
    if fix == "delete":
        if inst.status != "deleting":
            states.transition(inst, "deleting", "project gone on Railway")
        states.transition(inst, "deleted", "project gone on Railway")
        inst.next_poll_at = None
    elif fix == "redeploy":
        states.reprovision(inst, "redeploying into a new project")
        inst.railway_project_id = inst.railway_environment_id = None
        inst.railway_service_id = inst.railway_workflow_id = None
        inst.domain = None
        step = Deployment(tenant_id=inst.tenant_id, instance_id=inst.id, kind="deploy",
                          status="queued", reason="project gone on Railway")
        session.add(step)
        session.flush()
        outbox.enqueue(session, "instances.run_step", tenant_id=inst.tenant_id,
                       step_id=step.id)
    else:
        raise ServiceError("Unknown fix.", status=422, code="validation_failed")
    audit.record(session, f"instance.reconcile_{fix}", target_type="instance",
                 target_id=inst.id, tenant_id=inst.tenant_id,
                 details={"railway_project_id": project_id})
    if project_id:
        drop_finding(project_id)
    return inst
