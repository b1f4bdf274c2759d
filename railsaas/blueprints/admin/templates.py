"""Admin: the template catalog (create, edit, deactivate, import from a Railway code)."""

from __future__ import annotations

import json
import math
import uuid

from flask import flash, render_template, request, url_for
from sqlalchemy import select

from railsaas import input_guard
from railsaas.blueprints.admin.blueprint import bp
from railsaas.blueprints.htmx_helpers import redirect_to
from railsaas.catalog import templates as catalog
from railsaas.errors import ServiceError, ValidationFailed
from railsaas.extensions import db
from railsaas.models import Template
from railsaas.models.catalog import TIERS
from railsaas.platform import audit

FIELDS = ("name", "railway_template_id", "code", "description", "category", "price_tier", "icon")


def _form_data() -> dict:
    """The admin form -> the same dict the API takes. JSON fields arrive as text."""
    data = {k: request.form.get(k, "") for k in FIELDS}
    data["is_active"] = request.form.get("is_active") == "on"
    errors = {}
    try:
        data["monthly_estimate_cents"] = round(
            float(request.form.get("monthly_estimate", "0") or 0) * 100
        )
    except (ValueError, OverflowError):  # "nan", "inf", "1e400"
        errors["monthly_estimate"] = "must be a number of dollars"
    resources = {}
    for key in ("cpu", "memory_mb", "disk_gb"):
        raw = request.form.get(f"resources.{key}", "").strip()
        if raw:
            try:
                resources[key] = float(raw) if key == "cpu" else int(raw)
                if not math.isfinite(resources[key]):
                    raise ValueError(raw)
            except ValueError:
                errors[f"resources.{key}"] = "must be a number"
    data["resources"] = resources
    for key, target in (
        ("variables_json", "variables"),
        ("serialized_config_json", "serialized_config"),
    ):
        raw = request.form.get(key, "").strip()
        if not raw:
            data[target] = [] if target == "variables" else None
            continue
        try:
            data[target] = input_guard.loads_json(raw)  # depth and finiteness checked
        except ServiceError:
            errors[key] = "is not valid JSON (or is nested too deeply)"
    if errors:
        raise ValidationFailed("Some fields are not valid.", details=errors)
    return data


def _form_values(t: Template | None = None, data: dict | None = None) -> dict:
    if data is None and t is not None:
        data = {k: getattr(t, k) for k in FIELDS}
        data.update(
            is_active=t.is_active,
            resources=t.resources or {},
            monthly_estimate_cents=t.monthly_estimate_cents,
            variables=(t.setup_config or {}).get("variables", []),
            serialized_config=t.serialized_config,
        )
    data = dict(data or {"is_active": True, "price_tier": "starter", "resources": {}})
    data["variables_json"] = json.dumps(data.get("variables") or [], indent=2)
    data["serialized_config_json"] = (
        json.dumps(data["serialized_config"], indent=2) if data.get("serialized_config") else ""
    )
    data["monthly_estimate"] = f"{(data.get('monthly_estimate_cents') or 0) / 100:.2f}"
    return data


def _render_form(
    template: Template | None, values: dict, errors: dict | None = None, message: str | None = None
):
    # Shown again with its errors: 200, the team's rule for forms.
    return render_template(
        "admin/templates/form.html",
        template=template,
        values=values,
        errors=errors or {},
        message=message,
        tiers=TIERS,
    )


@bp.get("/templates")
def templates():
    rows = db.session.scalars(
        select(Template).order_by(Template.is_active.desc(), Template.name)
    ).all()
    return render_template("admin/templates/index.html", templates=rows)


@bp.get("/templates/new")
def templates_new():
    return _render_form(None, _form_values())


@bp.post("/templates/import")
@audit.exempt(
    "fetches a Railway template to prefill the form; nothing is saved until the "
    "form is (template.create)"
)
def templates_import():
    """Fetch a Railway template by code and prefill the form (nothing is saved yet)."""
    code = (request.form.get("code") or "").strip()
    if not code:
        return _render_form(None, _form_values(), {"code": "Enter a Railway template code."})
    try:
        found = catalog.fetch_template(code)
    except ServiceError as exc:
        return _render_form(None, _form_values(), {"code": exc.message})
    proposal = catalog.import_proposal(found)
    flash(
        f"Imported {proposal['name']} from Railway: check the tier, price and variables, "
        "then save.",
        "info",
    )
    return _render_form(None, _form_values(data=proposal))


def _save(template: Template | None):
    """Create (template None) or update from the posted form; the form again on errors."""
    try:
        data = _form_data()
        if template is None:
            saved = catalog.create_template(db.session, data)
        else:
            saved = catalog.update_template(db.session, template.id, data)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        return _render_form(template, _safe_form(), exc.details or {}, exc.message)
    flash(f"Template {saved.name} {'created' if template is None else 'saved'}.", "success")
    return redirect_to(url_for("admin.templates"))


@bp.post("/templates")
def templates_create():
    return _save(None)


@bp.get("/templates/<uuid:template_id>/edit")
def templates_edit(template_id: uuid.UUID):
    t = catalog.get_any(db.session, template_id)
    return _render_form(t, _form_values(t))


@bp.post("/templates/<uuid:template_id>")
def templates_update(template_id: uuid.UUID):
    return _save(catalog.get_any(db.session, template_id))


@bp.post("/templates/<uuid:template_id>/deactivate")
def templates_deactivate(template_id: uuid.UUID):
    t = catalog.deactivate_template(db.session, template_id)
    db.session.commit()
    flash(f"Template {t.name} is no longer in the catalog.", "success")
    return redirect_to(url_for("admin.templates"))


def _safe_form() -> dict:
    """What the admin typed, to show it again after an error."""
    data = {k: request.form.get(k, "") for k in FIELDS}
    data["is_active"] = request.form.get("is_active") == "on"
    data["resources"] = {
        k: request.form.get(f"resources.{k}", "") for k in ("cpu", "memory_mb", "disk_gb")
    }
    values = _form_values(data=data)
    values["variables_json"] = request.form.get("variables_json", "")
    values["serialized_config_json"] = request.form.get("serialized_config_json", "")
    values["monthly_estimate"] = request.form.get("monthly_estimate", "")
    return values
