"""Uptime's pages: a workspace's public status page, and the switches that publish it."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, g, render_template, request, url_for
from flask_login import login_required

from railsaas.blueprints.htmx_helpers import current_tenant_id, redirect_to
from railsaas.errors import NotFound
from railsaas.extensions import db
from railsaas.uptime import figures, status_page

bp = Blueprint("status", __name__)


def _on(value: str | None) -> bool:
    return value in ("1", "on", "true")


@bp.get("/status/<slug>")
def page(slug: str):
    """Public: no sign-in, no workspace chrome, nothing but the opted-in instances."""
    return render_template("status/page.html", page=status_page.read(db.session, slug))


@bp.post("/workspace/status-page")
@login_required
def workspace_switch():
    workspace = g.get("workspace")
    if workspace is None:
        raise NotFound("Choose or create a workspace first.", code="no_workspace")
    enabled = _on(request.form.get("enabled"))
    status_page.set_enabled(db.session, workspace, enabled)
    db.session.commit()
    flash(
        "The public status page is on." if enabled else "The public status page is off.", "success"
    )
    return redirect_to(url_for("teams.settings"))


@bp.post("/instances/<uuid:instance_id>/status-page")
@login_required
def instance_switch(instance_id: uuid.UUID):
    figures.set_public(
        db.session,
        current_tenant_id(),
        instance_id,
        _on(request.form.get("public")),
        actor=g.get("workspace"),
    )
    db.session.commit()
    return redirect_to(url_for("instances.detail", instance_id=instance_id))
