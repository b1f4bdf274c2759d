"""Admin: workspaces. Plan, status, instances, usage this month against the spend cap; one
workspace in detail; set its spend cap, suspend or reactivate it. Every change is audited
(billing.admin_workspaces)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import current_app, flash, render_template, request, url_for

from railsaas import charts
from railsaas.billing import admin_workspaces, costs, spend_caps, usage
from railsaas.blueprints.admin.blueprint import bp
from railsaas.blueprints.admin.common import PAGE_SIZE, page_number
from railsaas.blueprints.htmx_helpers import redirect_to, render
from railsaas.extensions import db
from railsaas.platform import audit

STATUSES = (
    ("", "All"),
    ("active", "Active"),
    ("suspended", "Suspended"),
    ("over_cap", "At or near the spend cap"),
    ("deleted", "Deleted"),
)


def _markup() -> int:
    return int(current_app.config["USAGE_MARKUP_PERCENT"])


@bp.get("/workspaces")
def workspaces():
    q, status, page = request.args.get("q", "")[:200], request.args.get("status", ""), page_number()
    rows = admin_workspaces.search(
        db.session,
        q,
        status,
        markup_percent=_markup(),
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE + 1,
    )
    return render(
        "admin/workspaces/index.html",
        "admin/workspaces/_results.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        q=q,
        status=status,
        statuses=STATUSES,
    )


@bp.get("/workspaces/<uuid:tenant_id>")
def workspace(tenant_id: uuid.UUID):
    tid = tenant_id
    tenant = admin_workspaces.get(db.session, tid)
    subs = admin_workspaces.subscriptions_of(db.session, tid)  # newest first
    live = next((s for s in subs if s.status in usage.LIVE_STATUSES), None)
    period = usage.period_of(live, datetime.now(UTC))
    spend = costs.daily_spend_by_instance(db.session, tid, period, _markup())
    chart = charts.bars(
        [d.strftime("%d") for d in spend.days],
        [charts.Series(name, values) for name, values in sorted(spend.by_instance.items())],
        title="Daily spend by instance this period",
        fmt=charts.money,
        stacked=True,
    )
    return render_template(
        "admin/workspaces/show.html",
        tenant=tenant,
        subscriptions=subs,
        period=period,
        members=admin_workspaces.members_of(db.session, tid),
        instances=admin_workspaces.instances_of(db.session, tid),
        usage=spend,
        chart=chart,
        cap_cents=spend_caps.cap_cents(tenant),
        activity=list(db.session.scalars(audit.query(audit.Filters(tenant_id=tid), limit=20))),
    )


@bp.post("/workspaces/<uuid:tenant_id>/spend-cap")
def workspace_spend_cap(tenant_id: uuid.UUID):
    # Admins may set any cap from $0 (stop everything) to $1,000,000.
    cap = spend_caps.parse_cap(
        request.form.get("spend_cap", ""), min_cents=0, max_cents=100_000_000
    )
    tenant = admin_workspaces.set_spend_cap(db.session, tenant_id, cap)
    db.session.commit()
    flash(
        f"Spend cap of {tenant.name}: "
        f"{charts.money(cap) if cap is not None else 'the plan default'}.",
        "success",
    )
    return redirect_to(url_for("admin.workspace", tenant_id=tenant.id))


@bp.post("/workspaces/<uuid:tenant_id>/status")
def workspace_status(tenant_id: uuid.UUID):
    tid = tenant_id
    if request.form.get("action") == "suspend":
        tenant = admin_workspaces.suspend(db.session, tid, request.form.get("reason", ""))
        message = f"{tenant.name} is suspended; its instances are stopping."
    else:
        tenant = admin_workspaces.reactivate(db.session, tid)
        message = f"{tenant.name} is active again."
    db.session.commit()
    flash(message, "success")
    return redirect_to(url_for("admin.workspace", tenant_id=tenant.id))
