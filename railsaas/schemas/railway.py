"""The seed's Railway views (instances/railway_views.py), for platform admins."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from railsaas.schemas.common import Body, PageQuery, Query


class RailwayProject(BaseModel):
    id: str
    name: str
    created_at: datetime | None
    instance_id: uuid.UUID | None = Field(
        description="The instance the project belongs to, if it is one of ours."
    )


class RailwayService(BaseModel):
    id: str
    name: str
    created_at: datetime | None


class RailwayEnvironment(BaseModel):
    id: str
    name: str


class RailwayServices(BaseModel):
    project_id: str
    services: list[RailwayService]
    environments: list[RailwayEnvironment]


class RailwayDeployment(BaseModel):
    id: str
    status: str
    created_at: datetime | None
    service_id: str | None
    environment_id: str | None
    url: str | None
    static_url: str | None


class RailwayServicesQuery(Query):
    project_id: str = Field(min_length=1, max_length=255)


class RailwayDeploymentsQuery(PageQuery):
    environment_id: str = Field(min_length=1, max_length=255)
    service_id: str = Field(min_length=1, max_length=255)


class RailwayServiceCreate(Body):
    project_id: str = Field(
        min_length=1, max_length=255, description="One of GET /api/railway/projects."
    )
    name: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Unique within the project; Railway names it after the image when left out.",
    )
    image: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$",
        description="Docker image to deploy (e.g. `nginx:1.27`); without one the service is "
        "created empty, with nothing deployed.",
    )
    environment_id: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="Create it in this environment only (default: every environment).",
    )
    variables: dict[str, str] | None = Field(
        None,
        max_length=100,
        description="Service variables. Their values are never logged or audited.",
    )


class RailwayServiceCreated(RailwayService):
    project_id: str
