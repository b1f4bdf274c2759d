"""Read-only views of the platform's Railway workspace for admins (the seed's
/api/railway/* routes), as plain data with Railway's failures turned into ServiceErrors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from railsaas.errors import NotFound, ServiceError
from railsaas.instances.steps import client, instance_id_from_project
from railsaas.railway import errors as rw


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _ask(call: Callable[[], Any], missing: str) -> Any:
    try:
        return call()
    except rw.NotFound:
        raise NotFound(missing) from None
    except rw.RailwayError as exc:
        raise ServiceError(
            f"Railway did not answer: {exc.message}", status=502, code="railway_unavailable"
        ) from None


def projects() -> list[dict[str, Any]]:
    rows = _ask(lambda: client().projects(), "No such workspace on Railway.")
    return [
        {
            "id": p.id,
            "name": p.name,
            "created_at": _iso(p.created_at),
            "instance_id": str(iid) if (iid := instance_id_from_project(p.name)) else None,
        }
        for p in rows
    ]


def _project(project_id: str):
    try:
        return client().project(project_id)
    except rw.Unauthorized:
        # Railway may answer "Not Authorized" for a project that does not exist: missing
        # if the workspace's list (which a bad token cannot read either) lacks it.
        if any(p.id == project_id for p in client().projects()):
            raise
        raise rw.NotFound("Project not found", operation="Project") from None


def services(project_id: str) -> dict[str, Any]:
    project = _ask(lambda: _project(project_id), "Railway has no such project.")
    return {
        "project_id": project.id,
        "services": [
            {"id": s.id, "name": s.name, "created_at": _iso(s.created_at)} for s in project.services
        ],
        "environments": [{"id": e.id, "name": e.name} for e in project.environments],
    }


def deployments(environment_id: str, service_id: str) -> list[dict[str, Any]]:
    latest = _ask(
        lambda: client().latest_deployment(environment_id, service_id),
        "Railway has no such service.",
    )
    if latest is None:
        return []
    return [
        {
            "id": latest.id,
            "status": latest.status,
            "created_at": _iso(latest.created_at),
            "service_id": latest.service_id,
            "environment_id": latest.environment_id,
            "url": latest.url,
            "static_url": latest.static_url,
        }
    ]
