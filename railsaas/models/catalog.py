"""The global template catalog: readable by everyone, written by platform admins."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from railsaas.models.base import Base, created_at, updated_at, uuid_pk

TIERS = ("starter", "standard", "pro")


class Template(Base):
    __tablename__ = "templates"

    id: Mapped[uuid.UUID] = uuid_pk()
    railway_template_id: Mapped[str] = mapped_column(String(255), unique=True)
    # Railway's template code (railway.com/template/<code>), used to import and refresh.
    code: Mapped[str | None] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(100))
    price_tier: Mapped[str] = mapped_column(String(50))
    # {"cpu": vCPU, "memory_mb": ..., "disk_gb": ...}: what the template typically uses.
    resources: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # {"variables": [{"name", "label", "required", "default", "generate", "secret",
    #   "pattern", "help", "service"}]}: what a customer fills in at deploy.
    setup_config: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Railway's serializedConfig for templateDeployV2.
    serialized_config: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    monthly_estimate_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    # What its instances really cost a month on the platform (the median, customer prices),
    # and over how many instances; NULL until COST_MEDIAN_MIN_INSTANCES have usage
    # (railsaas.billing.template_costs, refreshed by a system job).
    median_monthly_cents: Mapped[int | None]
    median_instances: Mapped[int | None]
    icon: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
