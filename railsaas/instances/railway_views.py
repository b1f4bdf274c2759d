"""Views of the platform's Railway workspace for admins (the seed's /api/railway/* routes),
as plain data with Railway's failures turned into ServiceErrors; and the one write, creating
a service in a project (audited)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy.orm import Session

from railsaas.errors import NotFound, ServiceError, ValidationFailed
from railsaas.instances.steps import client, instance_id_from_project
from railsaas.platform import audit
from railsaas.railway import errors as rw


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _failure(exc: rw.RailwayError, missing: str) -> ServiceError:
    if isinstance(exc, rw.NotFound):
        return NotFound(missing)
    return ServiceError(
        f"Railway did not answer: {exc.message}", status=502, code="railway_unavailable"
    )


def _ask(call: Callable[[], Any], missing: str) -> Any:
    try:
        return call()
    except rw.RailwayError as exc:
        raise _failure(exc, missing) from None


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


def _deployment(d) -> dict[str, Any]:
    return {
        "id": d.id,
        "status": d.status,
        "created_at": _iso(d.created_at),
        "service_id": d.service_id,
        "environment_id": d.environment_id,
        "url": d.url,
        "static_url": d.static_url,
    }


def deployments(environment_id: str, service_id: str, page_size: int = 50) -> Iterator[dict]:
    """A service's deployment history in an environment, newest first, asked of Railway a
    page at a time as the caller reads (a caller paging through stops early)."""
    pages = client().deployments(environment_id, service_id, page_size=page_size)
    while True:
        item = _ask(lambda: next(pages, None), "Railway has no such service.")
        if item is None:
            return
        yield _deployment(item)


def create_service(
    session: Session,
    *,
    project_id: str,
    name: str | None,
    image: str | None,
    environment_id: str | None = None,
    variables: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Create a service in one of the workspace's projects (platform admins; the caller
    checked who asks). Audited with the variables' names, never their values."""
    project = _ask(lambda: _project(project_id), "Railway has no such project.")
    if environment_id and environment_id not in {e.id for e in project.environments}:
        message = "That environment is not one of the project's."
        raise ValidationFailed(message, details={"environment_id": message})
    try:
        service = client().create_service(
            project.id,
            name=name,
            image=image,
            environment_id=environment_id,
            variables=variables,
        )
    except rw.Unavailable as exc:
        if exc.maybe_applied:
            raise ServiceError(
                "Railway did not answer and may have created the service: look at "
                "GET /api/railway/services before trying again.",
                status=502,
                code="railway_unavailable",
            ) from None
        raise _failure(exc, "Railway has no such project.") from None
    except rw.InvalidRequest as exc:
        raise ValidationFailed(f"Railway refused it: {exc.message}") from None
    except rw.RailwayError as exc:
        raise _failure(exc, "Railway has no such project.") from None
    audit.record(
        session,
        "railway.service_create",
        target_type="railway_service",
        target_id=service.id,
        tenant_id=None,
        details={
            "project_id": project.id,
            "name": service.name,
            "image": image,
            "environment_id": environment_id,
            "variables": sorted(variables or {}),
        },
    )
    return {
        "id": service.id,
        "name": service.name,
        "created_at": _iso(service.created_at),
        "project_id": project.id,
    }
