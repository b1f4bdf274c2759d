"""Admin: acquisition spend, per month and channel (the numerator of CAC on the metrics
page). List, record, delete; every change audited (acquisition.spend)."""

from __future__ import annotations

from flask import flash, render_template, request, url_for
from flask_login import current_user

from railsaas.acquisition import spend
from railsaas.blueprints.admin.blueprint import bp
from railsaas.blueprints.htmx_helpers import redirect_to
from railsaas.errors import ValidationFailed
from railsaas.extensions import db


def _page(values=None, errors=None, status=200):
    return render_template(
        "admin/acquisition/index.html",
        entries=spend.entries(db.session, current_user),
        values=values or {},
        errors=errors or {},
    ), status


@bp.get("/acquisition", endpoint="acquisition")
def acquisition_index():
    return _page()


@bp.post("/acquisition")
def acquisition_record():
    form = request.form.to_dict()
    form.pop("csrf_token", None)
    try:
        row = spend.record(db.session, current_user, spend.parse(form))
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(values=form, errors=exc.details or {"form": exc.message}, status=422)
    db.session.commit()
    flash(
        f"Recorded {row.amount_cents / 100:,.2f} for {row.channel} in {row.month:%B %Y}.", "success"
    )
    return redirect_to(url_for("admin.acquisition"))


@bp.post("/acquisition/<int:spend_id>/delete")
def acquisition_delete(spend_id: int):
    spend.delete(db.session, current_user, spend_id)
    db.session.commit()
    flash("Spend entry deleted.", "success")
    return redirect_to(url_for("admin.acquisition"))
