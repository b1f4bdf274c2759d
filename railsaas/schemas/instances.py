"""Instances (instances/lifecycle.py): what a workspace runs, and how it is changed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from railsaas.models.instance import INSTANCE_STATUSES
from railsaas.schemas.common import Body, PageQuery

# What the service accepts as a name: NAME_RE after trimming and lower-casing.
NAME_PATTERN = r"^\s*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\s*$"

InstanceStatusName = Literal[INSTANCE_STATUSES]  # type: ignore[valid-type]

# Values are text (numbers and booleans are taken as text); the service checks each against
# the template's variable spec and answers 422 per variable.
_VARIABLES = {
    "type": "object",
    "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
}


class TemplateRef(BaseModel):
    id: uuid.UUID
    name: str | None


class StepOut(BaseModel):
    """One lifecycle step: a deploy, redeploy, restart, stop, start, delete, variables or
    domain change."""

    id: uuid.UUID
    kind: str
    status: str
    reason: str | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime | None


class InstanceOut(BaseModel):
    id: uuid.UUID
    name: str
    status: InstanceStatusName
    status_reason: str | None
    template: TemplateRef
    domain: str | None
    custom_domain: str | None
    variables: list[str] = Field(
        description="Names only: values (secrets among them) are never sent back."
    )
    created_at: datetime
    status_changed_at: datetime | None
    deleted_at: datetime | None
    last_deployment: StepOut | None


class InstanceStatus(BaseModel):
    id: uuid.UUID
    name: str
    status: InstanceStatusName
    status_reason: str | None
    domain: str | None
    settled: bool = Field(description="True once no change is under way.")
    status_changed_at: datetime | None


class InstanceQuery(PageQuery):
    status: InstanceStatusName | None = Field(
        default=None, description="Only instances in this state."
    )
    template_id: uuid.UUID | None = Field(
        default=None, description="Only instances of this template."
    )
    include_deleted: bool = Field(
        default=False, description="Deleted instances are kept for billing and audit; include them."
    )


class InstanceCreate(Body):
    template_id: uuid.UUID
    # The service checks the name (one message per field, with the variables' messages);
    # the pattern documents its rule.
    name: str = Field(
        max_length=255,
        json_schema_extra={"pattern": NAME_PATTERN},
        description="1-63 lowercase letters, digits and hyphens (not at either "
        "end); unique among the workspace's live instances.",
    )
    variables: dict[str, Any] = Field(
        default_factory=dict,
        json_schema_extra=_VARIABLES,
        description="The template's variables by name.",
    )


class InstanceUpdate(Body):
    """Any subset. A variables or domain change, or an action, continues in the background
    (202); a rename alone answers 200."""

    name: str | None = Field(
        default=None, max_length=255, json_schema_extra={"pattern": NAME_PATTERN}
    )
    variables: dict[str, Any] | None = Field(
        default=None, json_schema_extra={"anyOf": [_VARIABLES, {"type": "null"}]}
    )
    custom_domain: str | None = Field(default=None, max_length=255)
    action: Literal["redeploy", "restart", "stop", "start"] | None = None
