"""The seed's Railway views, for platform admins only: the server asks Railway with the
master token and answers with plain data. The token never leaves the server."""

from __future__ import annotations

from flask import jsonify, request

from railsaas.blueprints.api import bp
from railsaas.blueprints.api.guard import api_login_required
from railsaas.errors import ValidationFailed
from railsaas.services import railway_views


@bp.get("/railway/projects")
@api_login_required(admin=True)
def railway_projects():
    return jsonify({"projects": railway_views.projects()})


@bp.get("/railway/services")
@api_login_required(admin=True)
def railway_services():
    project_id = (request.args.get("project_id") or "").strip()
    if not project_id:
        raise ValidationFailed("Name a project.", details={"project_id": "is required"})
    return jsonify(railway_views.services(project_id))


@bp.get("/railway/deployments")
@api_login_required(admin=True)
def railway_deployments():
    environment_id = (request.args.get("environment_id") or "").strip()
    service_id = (request.args.get("service_id") or "").strip()
    if not environment_id or not service_id:
        raise ValidationFailed("Name an environment and a service.", details={
            k: "is required" for k, v in (("environment_id", environment_id),
                                          ("service_id", service_id)) if not v})
    return jsonify({"deployments": railway_views.deployments(environment_id, service_id)})
