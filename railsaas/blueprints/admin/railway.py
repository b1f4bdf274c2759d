"""Admin: the pool of Railway workspaces (railsaas.fleet.admin). List each with its
instances, budget use, breaker and spend; add one (the token field is write-only); drain,
reopen, close; set Railway's usage limit. Every change audited."""

from __future__ import annotations

import uuid

from flask import current_app, flash, render_template, request, url_for
from flask_login import current_user

from railsaas.blueprints.admin.blueprint import bp
from railsaas.blueprints.htmx_helpers import redirect_to
from railsaas.errors import ServiceError, ValidationFailed
from railsaas.extensions import db
from railsaas.fleet import admin as fleet


def _page(values=None, errors=None, status=200):
    values = dict(values or {})
    values.pop("token", None)  # never sent back, not even what was just typed
    return render_template(
        "admin/railway/index.html",
        pool=fleet.overview(db.session, current_user, current_app.config),
        values=values,
        errors=errors or {},
    ), status


@bp.get("/railway", endpoint="railway_pool")
def railway_pool():
    return _page()


@bp.post("/railway")
def railway_pool_add():
    form = request.form.to_dict()
    form.pop("csrf_token", None)
    try:
        row = fleet.add(db.session, current_user, fleet.parse_new(form))
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(values=form, errors=exc.details or {"form": exc.message}, status=422)
    db.session.commit()
    flash(f"Added {row.name}: open for new workspaces. Its token is stored encrypted.", "success")
    return redirect_to(url_for("admin.railway_pool"))


@bp.post("/railway/<uuid:entry_id>/state")
def railway_pool_state(entry_id: uuid.UUID):
    state = request.form.get("state", "")
    try:
        row = fleet.set_state(db.session, current_user, entry_id, state)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        db.session.rollback()
        flash(exc.message, "error")
        return redirect_to(url_for("admin.railway_pool"))
    db.session.commit()
    flash(f"{row.name} is now {row.state}.", "success")
    return redirect_to(url_for("admin.railway_pool"))


@bp.post("/railway/<uuid:entry_id>/limit")
def railway_pool_limit(entry_id: uuid.UUID):
    try:
        row = fleet.set_usage_limit(
            db.session, current_user, entry_id, request.form.get("usage_limit", "")
        )
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(errors={**(exc.details or {}), "limit_for": str(entry_id)}, status=422)
    db.session.commit()
    flash(f"Usage limit of {row.name} saved.", "success")
    return redirect_to(url_for("admin.railway_pool"))
