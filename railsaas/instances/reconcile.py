"""Reconciliation: Railway's projects compared with our instances, and the admins' fixes.

`reconcile` (a periodic task) changes nothing: it keeps its findings in Redis for the admin
page (railsaas.blueprints.admin.instances), where an admin chooses the fix: delete a project
no instance uses, or redeploy (or mark deleted) an instance whose project is gone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from railsaas.db import SYSTEM
from railsaas.errors import NotFound as NotFoundError
from railsaas.errors import ServiceError
from railsaas.extensions import db, redis_client
from railsaas.instances import states
from railsaas.instances.cadence import now
from railsaas.instances.steps import PROJECT_PREFIX, client, instance_id_from_project
from railsaas.models import Deployment, Instance
from railsaas.platform import audit, outbox
from railsaas.railway import errors as rw
from railsaas.railway import pool

log = logging.getLogger(__name__)

RECONCILE_KEY = "reconcile:findings"


def reconcile() -> dict[str, Any]:
    """Compare each Railway workspace's projects with the instances placed there. Nothing is
    changed: findings are kept for admins, who choose the fix
    (railsaas.blueprints.admin.instances). A Railway workspace that cannot be read (a dead
    token) is reported as skipped; the others are still compared."""
    with db.scope(SYSTEM) as s:
        rows = s.execute(
            select(
                Instance.id,
                Instance.name,
                Instance.tenant_id,
                Instance.status,
                Instance.railway_project_id,
                Instance.railway_workspace_id,
            )
        ).all()
    instances = {r.id: r for r in rows}
    workspaces = [e for e in pool.entries() if e.state != "closed"]
    environment = next((e.id for e in workspaces if e.is_environment), None)
    findings: list[dict[str, Any]] = []
    skipped: list[str] = []
    total = 0
    for ws in workspaces:
        try:
            projects = client(ws.id).projects()
        except rw.RailwayError as exc:
            if len(workspaces) == 1:
                raise
            log.warning("reconcile: Railway workspace %s skipped: %s", ws.name, exc)
            skipped.append(ws.name)
            continue
        total += len(projects)
        findings += _compare(ws.id, projects, rows, instances, environment)
    report = {
        "checked_at": now().isoformat(),
        "projects": total,
        "instances": len(rows),
        "findings": findings,
        "skipped": skipped,
    }
    try:
        redis_client().set(RECONCILE_KEY, json.dumps(report))
    except redis.RedisError:
        log.warning("could not store reconcile findings")
    return report


def _compare(workspace, projects, rows, instances, environment) -> list[dict[str, Any]]:
    by_id = {p.id: p for p in projects}
    here = [r for r in rows if (r.railway_workspace_id or environment) == workspace]
    findings = []
    for p in projects:
        if not p.name.startswith(PROJECT_PREFIX):
            continue
        iid = instance_id_from_project(p.name)
        inst = instances.get(iid) if iid else None
        if (
            inst is None
            or inst.status == "deleted"
            or (inst.railway_project_id and inst.railway_project_id != p.id)
        ):
            findings.append(
                {
                    "kind": "orphan_project",
                    "project_id": p.id,
                    "project_name": p.name,
                    "instance_id": str(iid) if iid else None,
                    "railway_workspace_id": str(workspace),
                    "detail": "No live instance uses this Railway project.",
                }
            )
    for r in here:
        if (
            r.railway_project_id
            and r.status not in ("deleted", "deleting")
            and r.railway_project_id not in by_id
        ):
            findings.append(
                {
                    "kind": "missing_project",
                    "project_id": r.railway_project_id,
                    "instance_id": str(r.id),
                    "instance_name": r.name,
                    "tenant_id": str(r.tenant_id),
                    "status": r.status,
                    "railway_workspace_id": str(workspace),
                    "detail": "The instance's Railway project no longer exists.",
                }
            )
    return findings


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
    """Admin's fix for a project no instance uses: delete it on Railway (in the Railway
    workspace the findings saw it in)."""
    with db.scope(SYSTEM) as s:
        live = s.scalar(
            select(Instance.id).where(
                Instance.railway_project_id == project_id, Instance.status != "deleted"
            )
        )
    if live is not None:
        raise ServiceError(
            "A live instance uses this project; it is not an orphan.", status=409, code="conflict"
        )
    report = reconcile_report() or {}
    workspace = next(
        (
            f.get("railway_workspace_id")
            for f in report.get("findings", [])
            if f["project_id"] == project_id and f["kind"] == "orphan_project"
        ),
        None,
    )
    client(uuid.UUID(workspace) if workspace else None).delete_project(project_id)
    drop_finding(project_id)


def fix_missing_project(session: Session, instance_id: uuid.UUID, fix: str) -> Instance:
    """Admin's fix for an instance whose project is gone: 'redeploy' (a new project, same
    settings) or 'delete' (mark it deleted). Runs in the admin's transaction."""
    inst = session.scalar(
        select(Instance).where(Instance.id == instance_id).with_for_update(of=Instance)
    )
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
        step = Deployment(
            tenant_id=inst.tenant_id,
            instance_id=inst.id,
            kind="deploy",
            status="queued",
            reason="project gone on Railway",
        )
        session.add(step)
        session.flush()
        outbox.enqueue(session, "instances.run_step", tenant_id=inst.tenant_id, step_id=step.id)
    else:
        raise ServiceError("Unknown fix.", status=422, code="validation_failed")
    audit.record(
        session,
        f"instance.reconcile_{fix}",
        target_type="instance",
        target_id=inst.id,
        tenant_id=inst.tenant_id,
        details={"railway_project_id": project_id},
    )
    if project_id:
        drop_finding(project_id)
    return inst
