"""Public pages, the signed-in dashboard and the workspace's activity log."""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, request
from flask_login import login_required

from railsaas.billing import plans
from railsaas.blueprints.htmx_helpers import render
from railsaas.catalog import templates as catalog
from railsaas.context import cached_fragment, conditional
from railsaas.extensions import db
from railsaas.permissions import can
from railsaas.platform import audit
from railsaas.reporting import dashboard as figures

bp = Blueprint("pages", __name__)

ACTIVITY_PAGE = 25


@bp.get("/")
def index():
    # The catalog is cached in Redis and the plans are a handful of rows: two cheap reads.
    return render_template(
        "pages/index.html",
        templates=catalog.search(db.session)[:6],
        plans=plans.active_plans(db.session),
    )


@bp.get("/dashboard")
@login_required
@conditional(usage=True, hourly=True, fragment_only=True)  # its fragment polls every minute
def dashboard():
    workspace = g.get("workspace")
    if workspace is None:
        return render_template("pages/dashboard.html", overview_html=None)

    def draw() -> str:
        markup = int(current_app.config["USAGE_MARKUP_PERCENT"])
        overview, chart = figures.cached_overview(db.session, workspace.tenant, markup)
        return render_template(
            "pages/_dashboard_overview.html",
            overview=overview,
            chart=chart,
            activity=figures.activity(db.session, workspace, limit=10),
            describe=audit.describe,
        )

    # The page and its polled fragment share one drawing of the overview, kept while the
    # workspace's rows, its activity and the usage roll-up are unchanged.
    html = cached_fragment("dashboard-overview", draw, usage=True, hourly=True)
    return render(
        "pages/dashboard.html", "pages/_dashboard_overview_drawn.html", overview_html=html
    )


@bp.get("/activity")
@login_required
def activity():
    workspace = g.get("workspace")
    if workspace is None:
        return render_template(
            "pages/activity.html",
            rows=[],
            next_before=None,
            sees_origin=False,
            describe=audit.describe,
        )
    try:
        before = int(request.args.get("before", "")) or None
    except ValueError:
        before = None
    rows = figures.activity(db.session, workspace, before_id=before, limit=ACTIVITY_PAGE + 1)
    next_before = rows[ACTIVITY_PAGE - 1].row.id if len(rows) > ACTIVITY_PAGE else None
    return render(
        "pages/activity.html",
        "pages/_activity_page.html",
        rows=rows[:ACTIVITY_PAGE],
        next_before=next_before,
        sees_origin=can(workspace, "activity.origin"),
        describe=audit.describe,
    )
