"""The customer's instances: the list with live status, and one page per instance with tabs
(overview, logs, metrics, variables, deployments, settings)."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, abort, g, make_response, request, url_for
from flask_login import login_required

from railsaas.blueprints.htmx_helpers import (
    STOP_POLLING,
    current_tenant_id,
    redirect_to,
    render,
    wants_fragment,
)
from railsaas.catalog.variables import masked, specs_of
from railsaas.context import conditional
from railsaas.errors import ValidationFailed
from railsaas.extensions import db
from railsaas.instances import insights as instance_insights
from railsaas.instances import lifecycle as instances
from railsaas.instances import states
from railsaas.uptime import figures as uptime_figures

bp = Blueprint("instances", __name__, url_prefix="/instances")

TABS = (
    ("overview", "Overview"),
    ("logs", "Logs"),
    ("metrics", "Metrics"),
    ("variables", "Variables"),
    ("deployments", "Deployments"),
    ("settings", "Settings"),
)


@bp.before_request
@login_required
def _signed_in():
    return None


@bp.get("/")
def index():
    tenant_id = current_tenant_id()
    items = instances.list_for_tenant(db.session, tenant_id)
    last = instances.last_steps(db.session, [i.id for i in items])
    return render("instances/index.html", instances=items, last=last, states=states)


@bp.get("/status")
def statuses():
    """Every status of the workspace in one call (the list page's cards poll their own)."""
    return {"instances": instances.statuses(db.session, current_tenant_id())}


@bp.get("/<uuid:instance_id>/status")
@conditional()  # polled every 3 s while the instance changes: 304 while it has not
def status(instance_id: uuid.UUID):
    """The status badge as a fragment. Polled while the instance is changing; once settled it
    answers without the polling trigger and with 286, and htmx stops."""
    inst = instances.get_for_tenant(db.session, current_tenant_id(), instance_id)
    response = render("instances/_status.html", inst=inst, states=states)
    if inst.status in states.SETTLED:
        response.status_code = STOP_POLLING
        # The page's other parts (actions, domain) follow the new status.
        response.headers["HX-Trigger"] = "instance-settled"
    return response


def _page(tab: str, inst, **context) -> Response:
    last = instances.last_steps(db.session, [inst.id]).get(inst.id)
    return render(
        f"instances/{tab}.html",
        f"instances/_{tab}.html",
        partial_for="tab-content",
        inst=inst,
        tab=tab,
        tabs=TABS,
        last=last,
        states=states,
        **context,
    )


def _instance(instance_id: uuid.UUID):
    return instances.get_for_tenant(db.session, current_tenant_id(), instance_id)


@bp.get("/<uuid:instance_id>")
def detail(instance_id: uuid.UUID):
    inst = _instance(instance_id)
    return _page(
        "overview",
        inst,
        dns=instances.dns_instructions(inst),
        uptime=uptime_figures.for_instance(db.session, inst),
    )


@bp.get("/<uuid:instance_id>/logs")
def logs(instance_id: uuid.UUID):
    inst = _instance(instance_id)
    query = (request.args.get("q") or "").strip()[:200]
    after = request.args.get("after") or None
    result = instance_insights.logs(inst, query=query or None, after=after)
    if wants_fragment() and request.args.get("tail"):
        # Only the new lines, appended to the open log box.
        return render(
            "instances/_log_lines.html",
            result=result,
            inst=inst,
            query=query,
            follow=request.args.get("follow") == "1",
        )
    return _page("logs", inst, result=result, query=query, follow=request.args.get("follow") == "1")


@bp.get("/<uuid:instance_id>/logs.txt")
def logs_download(instance_id: uuid.UUID):
    inst = _instance(instance_id)
    query = (request.args.get("q") or "").strip()[:200]
    result = instance_insights.logs(inst, query=query or None, limit=5000)
    body = "\n".join(
        f"{line['timestamp']} {line['severity'] or ''} {line['message']}" for line in result.lines
    )
    response = make_response(body + "\n", 200)
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{inst.name}-logs.txt"'
    return response


@bp.get("/<uuid:instance_id>/metrics")
def metrics(instance_id: uuid.UUID):
    inst = _instance(instance_id)
    window = request.args.get("window", "1h")
    if window not in instance_insights.WINDOWS:
        window = "1h"
    return _page(
        "metrics",
        inst,
        window=window,
        windows=instance_insights.WINDOWS,
        charts=instance_insights.metrics(inst, window),
    )


@bp.get("/<uuid:instance_id>/variables")
def variables(instance_id: uuid.UUID):
    inst = _instance(instance_id)
    specs = specs_of(inst.template.setup_config)
    return _page("variables", inst, rows=masked(specs, inst.config), errors={})


@bp.post("/<uuid:instance_id>/variables")
def update_variables(instance_id: uuid.UUID):
    tenant_id = current_tenant_id()
    values = {
        k[len("variables.") :]: v for k, v in request.form.items() if k.startswith("variables.")
    }
    try:
        instances.update_variables(
            db.session, tenant_id, instance_id, values, g.user.id, actor=g.workspace
        )
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        inst = _instance(instance_id)
        specs = specs_of(inst.template.setup_config)
        return _page(
            "variables",
            inst,
            rows=masked(specs, inst.config),
            errors=exc.details or {},
            message=exc.message,
        )
    return redirect_to(url_for("instances.detail", instance_id=instance_id))


@bp.get("/<uuid:instance_id>/deployments")
def deployments(instance_id: uuid.UUID):
    inst = _instance(instance_id)
    return _page("deployments", inst, steps=instances.history(db.session, inst.tenant_id, inst.id))


@bp.get("/<uuid:instance_id>/settings")
def settings(instance_id: uuid.UUID):
    inst = _instance(instance_id)
    return _page("settings", inst, errors={}, dns=instances.dns_instructions(inst))


def _settings_error(instance_id: uuid.UUID, exc: ValidationFailed) -> Response:
    db.session.rollback()
    inst = _instance(instance_id)
    return _page(
        "settings",
        inst,
        errors=exc.details or {},
        message=exc.message,
        dns=instances.dns_instructions(inst),
    )


@bp.post("/<uuid:instance_id>/rename")
def rename(instance_id: uuid.UUID):
    tenant_id = current_tenant_id()
    try:
        instances.rename(
            db.session, tenant_id, instance_id, request.form.get("name"), actor=g.workspace
        )
        db.session.commit()
    except ValidationFailed as exc:
        return _settings_error(instance_id, exc)
    return redirect_to(url_for("instances.settings", instance_id=instance_id))


@bp.post("/<uuid:instance_id>/domain")
def add_domain(instance_id: uuid.UUID):
    tenant_id = current_tenant_id()
    try:
        instances.add_custom_domain(
            db.session,
            tenant_id,
            instance_id,
            request.form.get("domain"),
            g.user.id,
            actor=g.workspace,
        )
        db.session.commit()
    except ValidationFailed as exc:
        return _settings_error(instance_id, exc)
    return redirect_to(url_for("instances.settings", instance_id=instance_id))


@bp.post("/<uuid:instance_id>/delete")
def delete(instance_id: uuid.UUID):
    tenant_id = current_tenant_id()
    inst = _instance(instance_id)
    # The role before the typed name: a refusal is a 403 whatever was typed.
    instances.authorize_action(g.workspace, inst, "delete", g.user.id)
    if (request.form.get("confirm_name") or "").strip() != inst.name:
        return _settings_error(
            instance_id,
            ValidationFailed(
                "Type the instance's name to delete it.",
                details={"confirm_name": f"Type {inst.name} to confirm."},
            ),
        )
    instances.request_action(
        db.session, tenant_id, instance_id, "delete", g.user.id, actor=g.workspace
    )
    db.session.commit()
    return redirect_to(url_for("instances.index"))


@bp.post("/<uuid:instance_id>/actions/<action>")
def action(instance_id: uuid.UUID, action: str):
    tenant_id = current_tenant_id()
    if action not in ("redeploy", "restart", "stop", "start"):
        abort(404)
    instances.request_action(
        db.session, tenant_id, instance_id, action, g.user.id, actor=g.workspace
    )
    db.session.commit()
    return redirect_to(url_for("instances.detail", instance_id=instance_id))
