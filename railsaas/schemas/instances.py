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


class DnsRecordOut(BaseModel):
    """One DNS record Railway asks for, as Railway gave it."""

    type: str = Field(description="CNAME, TXT, A, ...: what to pick at the DNS provider.")
    name: str = Field(description="The record's full name (host), e.g. app.example.com.")
    value: str = Field(description="The value Railway requires.")
    status: Literal["pending", "verified"] = Field(
        description="verified once Railway sees the record with this value."
    )


class CustomDomainDnsOut(BaseModel):
    """The DNS records to set for the custom domain, from Railway's answer only."""

    domain: str
    state: Literal["waiting", "pending", "verified"] = Field(
        description="waiting: Railway has not said which records to set yet (no records); "
        "pending: set them (or they are propagating); verified: Railway verified the domain."
    )
    verified: bool
    certificate: Literal["pending", "issuing", "issued", "failed"] | None = Field(
        description="The HTTPS certificate; null while waiting."
    )
    records: list[DnsRecordOut]
    checked_at: datetime | None = Field(description="When Railway last reported on the domain.")
    message: str


class InstanceOut(BaseModel):
    id: uuid.UUID
    name: str
    status: InstanceStatusName
    status_reason: str | None
    template: TemplateRef
    domain: str | None
    custom_domain: str | None
    custom_domain_dns: CustomDomainDnsOut | None = Field(
        description="Null without a custom domain."
    )
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
