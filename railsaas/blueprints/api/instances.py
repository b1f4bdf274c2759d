"""Instances over JSON: list, create (202: the deploy runs in the background), read, change,
delete, and every status of the caller's workspace in one call."""

from __future__ import annotations

import uuid

from flask import g, jsonify, request

from railsaas.blueprints.api import bp
from railsaas.blueprints.api.guard import api_login_required
from railsaas.blueprints.api.workspace_access import api_tenant_id, require_api_editor
from railsaas.errors import ValidationFailed
from railsaas.extensions import db
from railsaas.services import instances


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("Send a JSON object.", details={"body": "must be a JSON object"})
    return body


def _one(tenant_id: uuid.UUID, instance_id) -> dict:
    inst = instances.get_for_tenant(db.session, tenant_id, instance_id)
    return instances.instance_dict(inst, instances.last_steps(db.session, [inst.id]).get(inst.id))


def create_from_json(tenant_id: uuid.UUID, user_id: uuid.UUID, body: dict):
    variables = body.get("variables") or {}
    inst = instances.create_instance(db.session, tenant_id=tenant_id, user_id=user_id,
                                     template_id=body.get("template_id"), name=body.get("name"),
                                     variables=variables)
    db.session.commit()
    response = jsonify(_one(tenant_id, inst.id))
    response.status_code = 202
    response.headers["Location"] = f"/api/instances/{inst.id}"
    return response


@bp.get("/instances")
@api_login_required()
def instances_index():
    tenant_id = api_tenant_id()
    include_deleted = request.args.get("include_deleted") in ("1", "true")
    items = instances.list_for_tenant(db.session, tenant_id, include_deleted=include_deleted)
    last = instances.last_steps(db.session, [i.id for i in items])
    return jsonify({"instances": [instances.instance_dict(i, last.get(i.id)) for i in items]})


@bp.post("/instances")
@api_login_required()
def instances_create():
    tenant_id = require_api_editor()
    return create_from_json(tenant_id, g.user.id, _body())


@bp.get("/instances/status")
@api_login_required()
def instances_status():
    return jsonify({"instances": instances.statuses(db.session, api_tenant_id())})


@bp.get("/instances/<instance_id>")
@api_login_required()
def instances_show(instance_id: str):
    return jsonify(_one(api_tenant_id(), instance_id))


@bp.put("/instances/<instance_id>")
@api_login_required()
def instances_update(instance_id: str):
    """{name?, variables?, custom_domain?, action?: redeploy|restart|stop|start}."""
    tenant_id = require_api_editor()
    body = _body()
    unknown = set(body) - {"name", "variables", "custom_domain", "action"}
    if unknown:
        raise ValidationFailed("Unknown fields.", details={k: "is not a field" for k in unknown})
    instances.get_for_tenant(db.session, tenant_id, instance_id)  # 404 before anything else
    changed = False
    if "name" in body:
        instances.rename(db.session, tenant_id, instance_id, body["name"])
    if "variables" in body:
        instances.update_variables(db.session, tenant_id, instance_id, body["variables"],
                                   g.user.id)
        changed = True
    if "custom_domain" in body:
        instances.add_custom_domain(db.session, tenant_id, instance_id, body["custom_domain"],
                                    g.user.id)
        changed = True
    if body.get("action"):
        if body["action"] not in ("redeploy", "restart", "stop", "start"):
            raise ValidationFailed("Unknown action.", details={
                "action": "must be redeploy, restart, stop or start"})
        instances.request_action(db.session, tenant_id, instance_id, body["action"], g.user.id)
        changed = True
    db.session.commit()
    response = jsonify(_one(tenant_id, instance_id))
    response.status_code = 202 if changed else 200
    return response


@bp.delete("/instances/<instance_id>")
@api_login_required()
def instances_delete(instance_id: str):
    tenant_id = require_api_editor()
    instances.request_action(db.session, tenant_id, instance_id, "delete", g.user.id)
    db.session.commit()
    response = jsonify(_one(tenant_id, instance_id))
    response.status_code = 202
    return response
