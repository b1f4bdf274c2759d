"""Admin: every workspace's instances (filtered by status, template or workspace) and acting on
them through the lifecycle service, and the reconcile findings with their fixes. Every
action is audited."""

from __future__ import annotations

import uuid

from flask import flash, g, render_template, request, url_for
from sqlalchemy import false, select

from railsaas.blueprints.admin.blueprint import bp
from railsaas.blueprints.admin.common import optional_uuid, workspace_id_from
from railsaas.blueprints.htmx_helpers import redirect_to
from railsaas.errors import NotFound
from railsaas.extensions import db
from railsaas.instances import reconcile, states
from railsaas.instances.lifecycle import STEP_FOR_ACTION, request_action
from railsaas.models import Instance, Template, Tenant
from railsaas.permissions import PLATFORM_STAFF
from railsaas.platform import audit, outbox

ACTIONS = tuple(STEP_FOR_ACTION)  # redeploy, restart, stop, start, delete


@bp.get("/instances")
def instances():
    status = request.args.get("status") or None
    template_id = optional_uuid(request.args.get("template"))
    workspace = (request.args.get("workspace") or "").strip()[:200]
    tenant_id = workspace_id_from(db.session, workspace)
    stmt = (
        select(Instance, Tenant.name)
        .join(Tenant, Tenant.id == Instance.tenant_id)
        .order_by(Instance.created_at.desc())
        .limit(200)
    )
    if status:
        stmt = stmt.where(Instance.status == status)
    if template_id:
        stmt = stmt.where(Instance.template_id == template_id)
    if workspace:
        # An unknown workspace matches nothing, rather than silently everything.
        stmt = stmt.where(Instance.tenant_id == tenant_id) if tenant_id else stmt.where(false())
    rows = db.session.execute(stmt).unique().all()
    templates = db.session.execute(select(Template.id, Template.name).order_by(Template.name)).all()
    return render_template(
        "admin/instances/index.html",
        rows=rows,
        status=status,
        statuses=list(states.TRANSITIONS),
        states=states,
        templates=templates,
        template_id=template_id,
        workspace_filter=workspace,
        actions=ACTIONS,
        report=reconcile.reconcile_report(),
    )


@bp.post("/instances/<uuid:instance_id>/action")
def instances_action(instance_id: uuid.UUID):
    """Act on any workspace's instance through the lifecycle, as the workspace would: the
    audit row (instance.<action>) lands in that workspace's log, by an admin."""
    action = request.form.get("action", "")
    inst = db.session.get(Instance, instance_id)
    if inst is None:
        raise NotFound("No such instance.")
    inst = request_action(
        db.session, inst.tenant_id, inst.id, action, g.user.id, actor=PLATFORM_STAFF
    )
    db.session.commit()
    flash(f"{inst.name}: {action} requested.", "success")
    return redirect_to(_back())


def _back() -> str:
    """Where the list was (its filters), if the form says so; never anywhere else."""
    back = request.form.get("back", "")
    base = url_for("admin.instances")
    return back if back.startswith(base) and "//" not in back else base


@bp.post("/instances/reconcile")
def instances_reconcile():
    outbox.enqueue(db.session, "instances.reconcile")
    audit.record(db.session, "admin.instances_reconcile", tenant_id=None)
    db.session.commit()
    flash("Reconciliation started; reload in a moment for its findings.", "info")
    return redirect_to(url_for("admin.instances"))


@bp.post("/instances/orphans/<project_id>/delete")
def instances_delete_orphan(project_id: str):
    outbox.enqueue(db.session, "instances.delete_orphan_project", project_id=project_id[:255])
    audit.record(
        db.session,
        "admin.railway_project_delete",
        target_type="railway_project",
        target_id=project_id[:255],
        tenant_id=None,
    )
    db.session.commit()
    flash("The Railway project will be deleted.", "success")
    return redirect_to(url_for("admin.instances"))


@bp.post("/instances/orphans/<project_id>/ignore")
def instances_ignore_finding(project_id: str):
    reconcile.drop_finding(project_id)
    audit.record(
        db.session,
        "admin.reconcile_ignore",
        target_type="railway_project",
        target_id=project_id[:255],
        tenant_id=None,
    )
    db.session.commit()
    return redirect_to(url_for("admin.instances"))


@bp.post("/instances/<uuid:instance_id>/fix")
def instances_fix(instance_id: uuid.UUID):
    fix = request.form.get("fix", "")
    inst = reconcile.fix_missing_project(db.session, instance_id, fix)
    db.session.commit()
    done = "redeploying into a new project" if fix == "redeploy" else "marked deleted"
    flash(f"{inst.name}: {done}.", "success")
    return redirect_to(url_for("admin.instances"))
