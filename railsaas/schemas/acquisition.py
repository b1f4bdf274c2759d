"""Acquisition spend (platform admins): what was spent per month and channel."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from railsaas.schemas.common import Body


class SpendCreate(Body):
    month: str = Field(
        max_length=10, description="The calendar month, YYYY-MM.", examples=["2026-05"]
    )
    channel: str = Field(
        max_length=100,
        description="As in the utm_source of the channel's "
        "links (lower-cased): google, newsletter, ...",
    )
    amount_cents: int = Field(description="Whole cents, 0 or more.")
    note: str | None = Field(default=None, max_length=500)


class SpendOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    month: date
    channel: str
    amount_cents: int
    note: str | None = None
    created_by: uuid.UUID | None = None
    created_at: datetime
