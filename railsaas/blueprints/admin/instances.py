"""Admin: every workspace's instances, and the reconcile findings with their fixes."""

from __future__ import annotations

from flask import flash, render_template, request, url_for
from sqlalchemy import select

from railsaas.blueprints.admin import bp
from railsaas.blueprints.htmx_helpers import redirect_to
from railsaas.extensions import db
from railsaas.models import Instance, Tenant
from railsaas.services import instance_states as states
from railsaas.services import outbox, provisioning
from railsaas.services.instances import parse_id


@bp.get("/instances")
def instances():
    status = request.args.get("status") or None
    stmt = (select(Instance, Tenant.name).join(Tenant, Tenant.id == Instance.tenant_id)
            .order_by(Instance.created_at.desc()).limit(200))
    if status:
        stmt = stmt.where(Instance.status == status)
    rows = db.session.execute(stmt).unique().all()
    return render_template("admin/instances/index.html", rows=rows, status=status,
                           statuses=list(states.TRANSITIONS), states=states,
                           report=provisioning.reconcile_report())


@bp.post("/instances/reconcile")
def instances_reconcile():
    outbox.enqueue(db.session, "instances.reconcile")
    db.session.commit()
    flash("Reconciliation started; reload in a moment for its findings.", "info")
    return redirect_to(url_for("admin.instances"))


@bp.post("/instances/orphans/<project_id>/delete")
def instances_delete_orphan(project_id: str):
    outbox.enqueue(db.session, "instances.delete_orphan_project", project_id=project_id[:255])
    db.session.commit()
    flash("The Railway project will be deleted.", "success")
    return redirect_to(url_for("admin.instances"))


@bp.post("/instances/orphans/<project_id>/ignore")
def instances_ignore_finding(project_id: str):
    provisioning.drop_finding(project_id)
    return redirect_to(url_for("admin.instances"))


@bp.post("/instances/<instance_id>/fix")
def instances_fix(instance_id: str):
    fix = request.form.get("fix", "")
    inst = provisioning.fix_missing_project(db.session, parse_id(instance_id), fix)
    db.session.commit()
    done = "redeploying into a new project" if fix == "redeploy" else "marked deleted"
    flash(f"{inst.name}: {done}.", "success")
    return redirect_to(url_for("admin.instances"))
