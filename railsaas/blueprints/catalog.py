"""The public template catalog and the deploy dialog."""

from __future__ import annotations

import uuid

from flask import Blueprint, g, request, url_for
from flask_login import login_required

from railsaas.blueprints.htmx_helpers import (
    current_tenant_id,
    redirect_to,
    render,
)
from railsaas.catalog import icons
from railsaas.catalog import templates as catalog
from railsaas.catalog.variables import specs_of
from railsaas.errors import LimitExceeded, ValidationFailed
from railsaas.extensions import db
from railsaas.instances import lifecycle as instances

bp = Blueprint("catalog", __name__, url_prefix="/templates")

# Template logos (macros/logo.html): the icon only when safe to show, else the initials.
bp.add_app_template_filter(icons.safe_icon_url, "icon_url")
bp.add_app_template_filter(icons.initials, "initials")


@bp.get("/")
def index():
    q = (request.args.get("q") or "").strip()[:100]
    category = (request.args.get("category") or "").strip()[:100]
    templates = catalog.search(db.session, q=q or None, category=category or None)
    return render(
        "catalog/index.html",
        "catalog/_results.html",
        partial_for="catalog-results",
        templates=templates,
        q=q,
        category=category,
        categories=catalog.categories(db.session),
    )


@bp.get("/<uuid:template_id>")
def detail(template_id: uuid.UUID):
    template = catalog.get_public(db.session, template_id)
    return render("catalog/detail.html", template=template)


def _form_context(template_id: uuid.UUID, *, values=None, errors=None, message=None, name=""):
    template = catalog.for_deploy(db.session, g.workspace, template_id)
    return {
        "template": template,
        "specs": specs_of(template.setup_config),
        "values": values or {},
        "errors": errors or {},
        "message": message,
        "name": name,
    }


@bp.get("/<uuid:template_id>/deploy")
@login_required
def deploy_form(template_id: uuid.UUID):
    current_tenant_id()
    return render(
        "catalog/deploy.html", "catalog/_deploy_dialog.html", **_form_context(template_id)
    )


@bp.post("/<uuid:template_id>/deploy")
@login_required
def deploy(template_id: uuid.UUID):
    tenant_id = current_tenant_id()
    specs = specs_of(catalog.for_deploy(db.session, g.workspace, template_id).setup_config)
    values = {s.name: request.form.get(f"variables.{s.name}", "") for s in specs}
    name = request.form.get("name", "")
    try:
        inst = instances.create_instance(
            db.session,
            tenant_id=tenant_id,
            user_id=g.user.id,
            template_id=template_id,
            name=name,
            variables=values,
            actor=g.workspace,
        )
        db.session.commit()
    except (ValidationFailed, LimitExceeded) as exc:
        db.session.rollback()
        errors = exc.details if isinstance(exc, ValidationFailed) else {}
        # Generated secrets are never echoed back into the form.
        secret = {s.name for s in specs if s.secret}
        shown = {n: v for n, v in values.items() if n not in secret}
        context = _form_context(
            template_id, values=shown, errors=errors or {}, message=exc.message, name=name
        )
        # A form shown again with its errors answers 200 (the team's rule): htmx swaps only
        # 2xx answers, and browsers log no failed load.
        return render("catalog/deploy.html", "catalog/_deploy_dialog.html", **context)
    return redirect_to(url_for("instances.detail", instance_id=inst.id))
