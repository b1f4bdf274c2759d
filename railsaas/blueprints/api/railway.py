"""The seed's Railway views, for platform admins only: the server asks Railway with the
master token and answers with plain data. The token never leaves the server."""

from __future__ import annotations

from datetime import UTC, datetime

from railsaas.blueprints.api.blueprint import bp
from railsaas.blueprints.api.operations import operation
from railsaas.blueprints.api.pagination import paginate_items
from railsaas.instances import railway_views
from railsaas.schemas.common import Page, PageQuery
from railsaas.schemas.railway import (
    RailwayDeployment,
    RailwayDeploymentsQuery,
    RailwayProject,
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
    """The latest deployment of a service in an environment."""
    items = [
        RailwayDeployment.model_validate(d)
        for d in railway_views.deployments(query.environment_id.strip(), query.service_id.strip())
    ]
    page = paginate_items(items, query, key=_key)
    return Page[RailwayDeployment](items=page.rows, next_cursor=page.next_cursor)
