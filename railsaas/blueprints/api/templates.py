"""The template catalog over JSON: public reads, admin writes; deploy a template."""

from __future__ import annotations

from flask import g, jsonify, request

from railsaas.blueprints.api import bp
from railsaas.blueprints.api.guard import api_login_required
from railsaas.blueprints.api.instances import create_from_json
from railsaas.blueprints.api.workspace_access import require_api_editor
from railsaas.errors import ValidationFailed
from railsaas.extensions import db
from railsaas.services import catalog


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("Send a JSON object.", details={"body": "must be a JSON object"})
    return body


@bp.get("/templates")
def templates_index():
    q = (request.args.get("q") or "").strip()[:100] or None
    category = (request.args.get("category") or "").strip()[:100] or None
    items = catalog.search(db.session, q=q, category=category)
    return jsonify({"templates": items, "categories": catalog.categories(db.session)})


@bp.get("/templates/<template_id>")
def templates_show(template_id: str):
    return jsonify(catalog.get_public(db.session, template_id))


@bp.post("/templates")
@api_login_required(admin=True)
def templates_create():
    t = catalog.create_template(db.session, _json_body())
    db.session.commit()
    return jsonify(catalog.template_dict(t)), 201


@bp.put("/templates/<template_id>")
@api_login_required(admin=True)
def templates_update(template_id: str):
    t = catalog.update_template(db.session, template_id, _json_body())
    db.session.commit()
    return jsonify(catalog.template_dict(t))


@bp.delete("/templates/<template_id>")
@api_login_required(admin=True)
def templates_delete(template_id: str):
    """Deactivates: instances still refer to the template."""
    t = catalog.deactivate_template(db.session, template_id)
    db.session.commit()
    return jsonify(catalog.template_dict(t))


@bp.post("/templates/deploy")
@api_login_required()
def templates_deploy():
    tenant_id = require_api_editor()
    return create_from_json(tenant_id, g.user.id, _json_body())
