"""Admin: the price list. Create, edit, archive (or delete, if unused) plans; saving can
create the plan's Stripe product and price. Every change is audited (billing.plans)."""

from __future__ import annotations

from flask import flash, render_template, request, url_for

from railsaas.billing import gateway, plans
from railsaas.blueprints.admin.blueprint import bp
from railsaas.blueprints.htmx_helpers import redirect_to
from railsaas.errors import ValidationFailed
from railsaas.extensions import db
from railsaas.models.catalog import TIERS


def _form_page(plan=None, *, values=None, errors=None, status=200):
    return render_template(
        "admin/plans/form.html",
        plan=plan,
        values=values or {},
        errors=errors or {},
        tiers=TIERS,
        intervals=plans.INTERVALS,
        message=None if not errors else "Some fields need another look.",
    ), status


def _values(plan) -> dict:
    return {
        "name": plan.name,
        "slug": plan.slug,
        "description": plan.description or "",
        "price": f"{plan.price_cents / 100:.2f}",
        "currency": plan.currency,
        "interval": plan.interval,
        "max_instances": plan.max_instances,
        "allowed_tiers": list(plan.allowed_tiers),
        "included_usage": f"{plan.included_usage_cents / 100:.2f}",
        "spend_cap_default": f"{plan.spend_cap_default_cents / 100:.2f}",
        "trial_days": plan.trial_days,
        "sort_order": plan.sort_order,
        "is_active": plan.is_active,
        "stripe_price_id": plan.stripe_price_id or "",
        "sync_stripe": True,
    }


def _submitted() -> dict:
    form = request.form.to_dict()
    form.pop("csrf_token", None)
    form["allowed_tiers"] = request.form.getlist("allowed_tiers")
    return form


def _save(plan=None):
    form = _submitted()
    try:
        data = plans.parse_form(form)
        saved = plans.update(db.session, plan.id, data) if plan else plans.create(db.session, data)
    except ValidationFailed as exc:
        db.session.rollback()
        form.setdefault("is_active", "is_active" in request.form)
        form["sync_stripe"] = "sync_stripe" in request.form
        return _form_page(
            plan, values=form, errors=exc.details or {"form": exc.message}, status=422
        )
    except gateway.BillingUnavailable as exc:
        db.session.rollback()
        return _form_page(plan, values=form, errors={"form": exc.message}, status=503)
    db.session.commit()
    flash(f"Plan {saved.name} saved.", "success")
    return redirect_to(url_for("admin.plans"))


@bp.get("/plans", endpoint="plans")
def plans_index():
    return render_template("admin/plans/index.html", plans=plans.all_plans(db.session))


@bp.route("/plans/new", methods=["GET", "POST"])
def plan_new():
    if request.method == "POST":
        return _save()
    return _form_page(
        values={
            "currency": "usd",
            "interval": "month",
            "is_active": True,
            "sync_stripe": True,
            "allowed_tiers": ["starter"],
            "included_usage": "0",
            "trial_days": 0,
            "sort_order": 0,
        }
    )


@bp.route("/plans/<uuid:plan_id>", methods=["GET", "POST"])
def plan_edit(plan_id):
    plan = plans.get(db.session, plan_id)
    if request.method == "POST":
        return _save(plan)
    return _form_page(plan, values=_values(plan))


@bp.post("/plans/<uuid:plan_id>/archive")
def plan_archive(plan_id):
    plan = plans.set_active(db.session, plan_id, False)
    db.session.commit()
    flash(f"Plan {plan.name} archived: no longer offered; subscribers keep it.", "success")
    return redirect_to(url_for("admin.plans"))


@bp.post("/plans/<uuid:plan_id>/activate")
def plan_activate(plan_id):
    plan = plans.set_active(db.session, plan_id, True)
    db.session.commit()
    flash(f"Plan {plan.name} is offered again.", "success")
    return redirect_to(url_for("admin.plans"))


@bp.post("/plans/<uuid:plan_id>/delete")
def plan_delete(plan_id):
    try:
        plans.delete(db.session, plan_id)
    except ValidationFailed as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect_to(url_for("admin.plans"))
    db.session.commit()
    flash("Plan deleted.", "success")
    return redirect_to(url_for("admin.plans"))
