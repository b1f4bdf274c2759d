"""Admin: the audit log of every workspace, with filters (workspace, actor, action, target,
dates), newest first, paged by id."""

from __future__ import annotations

from flask import request
from sqlalchemy import select

from railsaas.blueprints.admin.blueprint import bp
from railsaas.blueprints.admin.common import day_start, optional_uuid, workspace_id_from
from railsaas.blueprints.htmx_helpers import render
from railsaas.extensions import db
from railsaas.models import User
from railsaas.platform import audit

PAGE = 50
ACTOR_TYPES = ("user", "admin", "api_token", "system", "anonymous")


def _actor_id(value: str):
    if not value:
        return None
    uid = optional_uuid(value)
    if uid:
        return uid
    return db.session.scalar(select(User.id).where(User.email == value.strip().lower()))


@bp.get("/audit", endpoint="audit")
def audit_log():
    a = request.args
    form = {
        k: a.get(k, "")[:200]
        for k in (
            "workspace",
            "actor",
            "actor_type",
            "action",
            "target_type",
            "target_id",
            "since",
            "until",
        )
    }
    unknown = []
    workspace_id = workspace_id_from(db.session, form["workspace"])
    if form["workspace"] and workspace_id is None:
        unknown.append("workspace")
    actor_id = _actor_id(form["actor"])
    if form["actor"] and actor_id is None:
        unknown.append("actor")
    action = form["action"].strip()
    if action.endswith("*"):
        action = action[:-1]  # "instance.*" and "instance." both mean the prefix
    filters = audit.Filters(
        tenant_id=workspace_id,
        actor_user_id=actor_id,
        actor_type=form["actor_type"] if form["actor_type"] in ACTOR_TYPES else None,
        action=action or None,
        target_type=form["target_type"] or None,
        target_id=form["target_id"] or None,
        since=day_start(form["since"]),
        until=day_start(form["until"], end=True),
    )
    try:
        before = int(a.get("before", "")) or None
    except ValueError:
        before = None
    # An unknown workspace or actor matches nothing, rather than silently everything.
    rows = [] if unknown else audit.entries(db.session, filters, before_id=before, limit=PAGE + 1)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    next_args = (
        {**{k: v for k, v in form.items() if v}, "before": rows[-1].row.id}
        if more and rows
        else None
    )
    return render(
        "admin/audit/index.html",
        "admin/audit/_results.html",
        rows=rows,
        form=form,
        unknown=unknown,
        next_args=next_args,
        actor_types=ACTOR_TYPES,
    )
