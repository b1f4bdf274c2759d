"""The seed's Railway views, for platform admins only: the server asks Railway with the
master token and answers with plain data. The token never leaves the server."""

from __future__ import annotations

from datetime import UTC, datetime

from railsaas.blueprints.api.blueprint import bp
from railsaas.blueprints.api.operations import operation
from railsaas.blueprints.api.pagination import paginate_items, paginate_stream
from railsaas.extensions import db
from railsaas.instances import railway_views
from railsaas.schemas.common import Page, PageQuery
from railsaas.schemas.railway import (
    RailwayDeployment,
    RailwayDeploymentsQuery,
    RailwayProject,
    RailwayServiceCreate,
    RailwayServiceCreated,
    RailwayServices,
    RailwayServicesQuery,
)

_UNDATED = datetime.min.replace(tzinfo=UTC)  # Railway may leave a date out: those sort last


def _key(item):
    return (item.created_at or _UNDATED, item.id)


@bp.get("/railway/projects")
@operation(
    auth="admin",
    query=PageQuery,
    responses={200: Page[RailwayProject]},
    errors=(502,),
    tags=["railway"],
)
def railway_projects(query: PageQuery):
    """The projects of the platform's Railway workspace (one per instance)."""
    items = [RailwayProject.model_validate(p) for p in railway_views.projects()]
    page = paginate_items(items, query, key=_key)
    return Page[RailwayProject](items=page.rows, next_cursor=page.next_cursor)


@bp.get("/railway/services")
@operation(
    auth="admin",
    query=RailwayServicesQuery,
    responses={200: RailwayServices},
    errors=(502,),
    tags=["railway"],
)
def railway_services(query: RailwayServicesQuery):
    """A Railway project's services and environments."""
    return RailwayServices.model_validate(railway_views.services(query.project_id.strip()))


@bp.get("/railway/deployments")
@operation(
    auth="admin",
    query=RailwayDeploymentsQuery,
    responses={200: Page[RailwayDeployment]},
    errors=(502,),
    tags=["railway"],
)
def railway_deployments(query: RailwayDeploymentsQuery):
    """The deployment history of a service in an environment, newest first (the first item
    is the latest). Railway is asked a page at a time, only as far as this page needs."""
    items = (
        RailwayDeployment.model_validate(d)
        for d in railway_views.deployments(
            query.environment_id.strip(), query.service_id.strip(), page_size=query.limit + 1
        )
    )
    page = paginate_stream(items, query, key=_key)
    return Page[RailwayDeployment](items=page.rows, next_cursor=page.next_cursor)


@bp.post("/railway/services")
@operation(
    auth="admin",
    body=RailwayServiceCreate,
    responses={201: RailwayServiceCreated},
    errors=(404, 502),
    tags=["railway"],
)
def railway_service_create(body: RailwayServiceCreate):
    """Create a service in one of the platform's Railway projects, from a Docker image (or
    empty). Audited. Mind that a service outside an instance is billed to no customer: the
    usual way to run something is POST /api/instances."""
    created = railway_views.create_service(
        db.session,
        project_id=body.project_id.strip(),
        name=body.name.strip() if body.name else None,
        image=body.image,
        environment_id=body.environment_id.strip() if body.environment_id else None,
        variables=body.variables,
    )
    db.session.commit()
    return RailwayServiceCreated.model_validate(created), 201
