"""The template catalog (catalog/templates.py): what the public reads, what admins write."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from railsaas.catalog.templates import TemplateInput
from railsaas.schemas.common import Page, PageQuery, partial

Tier = Literal["starter", "standard", "pro"]


class TemplateVariable(BaseModel):
    """A setting a customer fills in at deploy (catalog/variables.py)."""

    model_config = ConfigDict(extra="allow")

    name: str
    label: str | None = None
    required: bool = False
    default: str | None = None
    generate: str | None = Field(
        default=None, description="Generated when left empty: secret, hex or password."
    )
    secret: bool = False
    pattern: str | None = None
    help: str | None = None
    service: str | None = None


class TemplateOut(BaseModel):
    id: uuid.UUID
    code: str | None
    name: str
    description: str | None
    category: str
    price_tier: Tier
    resources: dict[str, float] = Field(
        description="What it typically uses: cpu (vCPU), memory_mb, disk_gb."
    )
    monthly_estimate_cents: int
    icon: str | None
    is_active: bool
    variables: list[TemplateVariable]
    created_at: datetime
    updated_at: datetime | None


class TemplatePage(Page[TemplateOut]):
    categories: list[str] = Field(description="Every category of the active catalog.")


class TemplateQuery(PageQuery):
    q: str | None = Field(
        default=None,
        max_length=100,
        description="Words that must all appear in the name, description or category.",
    )
    category: str | None = Field(default=None, max_length=100)


class TemplateCreate(TemplateInput):
    """A catalog entry (platform admins). `variables` are what customers fill in at deploy:
    objects with name, label, required, default, generate, secret, pattern, help."""

    price_tier: Tier  # type: ignore[assignment]
    variables: list[dict[str, Any]] = Field(default_factory=list)


TemplateUpdate = partial(
    TemplateCreate,
    "TemplateUpdate",
    "Any subset of a template's fields; the rest stay as they are.",
)


def template_out(data: dict[str, Any]) -> TemplateOut:
    return TemplateOut.model_validate(data)


__all__ = [
    "TemplateCreate",
    "TemplateOut",
    "TemplatePage",
    "TemplateQuery",
    "TemplateUpdate",
    "TemplateVariable",
    "Tier",
    "template_out",
]
