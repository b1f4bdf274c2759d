"""Billing pages: pricing (public), the workspace's billing page with its HTMX parts, Checkout
and the customer portal (Stripe's hosted pages), the spend cap, and the downgrade page that
asks which instances to stop.

Every member can read the billing page; only the workspace owner changes anything.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from railsaas.billing import (
    gateway,
    limits,
    overview,
    plans,
    spend_caps,
    subscriptions,
    trials,
    usage,
)
from railsaas.billing.dunning import deadlines
from railsaas.blueprints.htmx_helpers import redirect_to, render
from railsaas.errors import NotFound, ValidationFailed
from railsaas.extensions import db
from railsaas.instances import admission
from railsaas.permissions import can
from railsaas.security import CSP

bp = Blueprint("billing", __name__)


@bp.after_request
def _allow_stripe_form_targets(response: Response) -> Response:
    """Our forms redirect (303) to Stripe's hosted Checkout and portal: CSP's form-action
    governs redirects after a form post too, so those origins are allowed here only."""
    if response.mimetype == "text/html":
        origins = " ".join(gateway.hosted_origins())
        response.headers["Content-Security-Policy"] = CSP.replace(
            "form-action 'self'", f"form-action 'self' {origins}"
        )
    return response


# --- helpers ----------------------------------------------------------------------------------


def _workspace():
    workspace = g.get("workspace")
    if workspace is None:
        raise NotFound("Choose or create a workspace first.")
    return workspace


def _summary() -> dict:
    return overview.summary(
        db.session,
        _workspace(),
        now=datetime.now(UTC),
        markup_percent=current_app.config["USAGE_MARKUP_PERCENT"],
        user_id=current_user.id if current_user.is_authenticated else None,
    )


def _external(endpoint: str, **values) -> str:
    """An absolute URL on BASE_URL (Stripe sends the customer back there)."""
    return current_app.config["BASE_URL"].rstrip("/") + url_for(endpoint, **values)


# --- public -----------------------------------------------------------------------------------


@bp.get("/pricing")
def pricing():
    workspace = g.get("workspace")
    current = subscriptions.current(db.session, workspace.id) if workspace else None
    return render(
        "billing/pricing.html",
        plans=plans.active_plans(db.session),
        subscribed=current is not None and current.status in usage.LIVE_STATUSES,
        is_owner=can(workspace, "billing.manage"),
        trial_offered=trials.offered(
            db.session, workspace.tenant, current_user.id if current_user.is_authenticated else None
        )
        if workspace
        else True,
    )


# --- the billing page and its parts ------------------------------------------------------------


@bp.get("/billing")
@login_required
def index():
    return render("billing/index.html", "billing/_summary.html", **_summary())


@bp.get("/billing/usage")
@login_required
def usage_part():
    return render("billing/usage.html", "billing/_usage.html", **_summary())


@bp.get("/billing/invoices")
@login_required
def invoices():
    error, items = None, []
    try:
        items = overview.invoices(_workspace())
    except gateway.BillingUnavailable as exc:
        error = exc.message
    return render(
        "billing/invoices.html",
        "billing/_invoices.html",
        invoices=items,
        error=error,
        to_dt=lambda ts: datetime.fromtimestamp(int(ts), UTC),
    )


# --- subscribing --------------------------------------------------------------------------------


@bp.post("/billing/checkout")
@login_required
def checkout():
    workspace = _workspace()
    cs = subscriptions.start_checkout(
        db.session,
        workspace,
        current_user,
        request.form.get("plan_id"),
        success_url=_external("billing.success") + "?session_id={CHECKOUT_SESSION_ID}",
        cancel_url=_external("billing.cancel"),
    )
    db.session.commit()
    return redirect_to(cs["url"])


@bp.get("/billing/success")
@login_required
def success():
    workspace = _workspace()
    row = None
    try:
        row = subscriptions.finish_checkout(
            db.session, workspace.id, request.args.get("session_id", "")
        )
        db.session.commit()
    except gateway.BillingUnavailable:
        db.session.rollback()  # the webhook will bring it in
    return render_template("billing/success.html", subscription=row)


@bp.get("/billing/cancel")
@login_required
def cancel():
    return render_template("billing/cancel.html")


@bp.post("/billing/portal")
@login_required
def portal():
    workspace = _workspace()
    url = subscriptions.open_portal(db.session, workspace, current_user, _external("billing.index"))
    db.session.commit()
    return redirect_to(url)


# --- the spend cap ------------------------------------------------------------------------


@bp.post("/billing/spend-cap")
@login_required
def spend_cap():
    workspace = _workspace()
    value = request.form.get("spend_cap", "")
    if request.form.get("use_plan_default"):
        value = ""
    try:
        change = spend_caps.set_own_cap(db.session, workspace, value, gateway.now())
    except ValidationFailed as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect_to(url_for("billing.index"))
    db.session.commit()
    flash(
        "Spend cap saved."
        + (" Your instances are starting again." if change and change.before == "capped" else ""),
        "success",
    )
    return redirect_to(url_for("billing.index"))


# --- a downgrade over the plan's limit -------------------------------------------------


@bp.route("/billing/over-limit", methods=["GET", "POST"])
@login_required
def over_limit():
    workspace = _workspace()
    tenant = workspace.tenant
    error = None
    if request.method == "POST":
        try:
            stopped = limits.stop_over_limit(
                db.session, workspace, request.form.getlist("instance_ids"), gateway.now()
            )
        except ValidationFailed as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(f"Stopping {stopped} instance{'s' if stopped != 1 else ''}.", "success")
            return redirect_to(url_for("billing.index"))
    return render(
        "billing/over_limit.html",
        over=admission.over_limit(db.session, tenant),
        deadline=limits.deadline(tenant),
        instances=admission.counted_list(db.session, tenant.id),
        error=error,
        is_owner=can(workspace, "billing.manage"),
        status_code=422 if error else 200,
    )


# --- shared with every page ---------------------------------------------------------------


@bp.app_template_filter("money")
def money(cents: int | float | None, currency: str = "usd") -> str:
    cents = int(cents or 0)
    sign = "-" if cents < 0 else ""
    symbol = "$" if currency.lower() == "usd" else f"{currency.upper()} "
    return f"{sign}{symbol}{abs(cents) / 100:,.2f}"


@bp.app_context_processor
def _billing_notice() -> dict:
    """`billing_notice()` for the layout's banner: (level, message) or None. Read from the
    workspace row the request already loaded: no query."""

    def notice():
        workspace = g.get("workspace")
        if workspace is None:
            return None
        t = workspace.tenant
        if t.dunning_stage == "deleted":
            return (
                "error",
                "Payment overdue: this workspace's instances were deleted. "
                "Pay the open invoice to use it again.",
            )
        if t.dunning_stage == "suspended":
            return (
                "error",
                "Payment overdue: this workspace's instances are stopped. Paying "
                "the open invoice starts them again.",
            )
        if t.payment_failed_at is not None:
            suspend_on, _ = deadlines(t.payment_failed_at)
            return (
                "warning",
                "Your last payment failed. Pay the open invoice by "
                f"{suspend_on:%B %-d} to keep your instances running.",
            )
        if t.spend_cap_state == "capped":
            return (
                "error",
                "Spend cap reached: this workspace's instances are stopped until "
                "the cap is raised or the next period begins.",
            )
        if t.spend_cap_state == "warned":
            return ("warning", "This workspace has used 80% of its spend cap for this period.")
        return None

    return {"billing_notice": notice}
