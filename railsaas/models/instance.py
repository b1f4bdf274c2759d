"""Customer instances (one Railway project each) and the history of what happened to them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from railsaas.models.base import Base, created_at, updated_at, uuid_pk

# The instance lifecycle (docs/architecture.md; transitions in instances.states). The sets
# below are the one home of each grouping: features, metrics and reports import them.
INSTANCE_STATUSES = (
    "requested",
    "provisioning",
    "deploying",
    "running",
    "redeploying",
    "crashed",
    "failed",
    "stopping",
    "stopped",
    "starting",
    "suspended",
    "deleting",
    "deleted",
)
# Waiting on Railway: polled every few seconds and held to DEPLOY_TIMEOUT_SECONDS.
IN_FLIGHT = frozenset(
    {"requested", "provisioning", "deploying", "redeploying", "starting", "stopping", "deleting"}
)
# Settled: polled every few minutes (a running app can still crash).
SETTLED = frozenset({"running", "crashed", "failed", "stopped", "suspended", "deleted"})
# Occupying Railway resources (the admin's and the metrics' "active instances").
ACTIVE = frozenset(
    {"requested", "provisioning", "deploying", "running", "redeploying", "starting", "crashed"}
)


class Instance(Base):
    __tablename__ = "instances"
    __table_args__ = (
        Index("idx_instances_user_id", "user_id"),
        Index("ix_instances_tenant_id_status", "tenant_id", "status"),
        Index("ix_instances_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_instances_template_id", "template_id"),
        # Names are unique per workspace among live instances (tenant_id first: no probing).
        Index(
            "uq_instances_tenant_id_name_live",
            "tenant_id",
            "name",
            unique=True,
            postgresql_where=text("status <> 'deleted'"),
        ),
        # The poller selects by status and due time across tenants.
        Index("ix_instances_status_next_poll_at", "status", "next_poll_at"),
        # The poller claims due instances per Railway workspace (railsaas.instances.poll).
        Index(
            "ix_instances_railway_workspace_id_next_poll_at", "railway_workspace_id", "next_poll_at"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("templates.id"))
    # NULL until Railway answers (the seed had NOT NULL; a deploy exists before Railway does).
    railway_service_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    railway_project_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    railway_environment_id: Mapped[str | None] = mapped_column(String(255))
    # The pool entry (railsaas.railway.pool) the project lives in: the workspace's placement
    # when the instance was created. NULL: the environment's entry (rows from before the pool).
    railway_workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("railway_workspaces.id")
    )
    railway_workflow_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    domain: Mapped[str | None] = mapped_column(String(255))
    custom_domain: Mapped[str | None] = mapped_column(String(255))
    # What Railway reported for custom_domain (railsaas.instances.domains): its DNS records,
    # each with a status, and whether it verified the domain. NULL until Railway answers.
    custom_domain_dns: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(50))
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None]
    # Customer-provided variables; secrets included (never rendered unmasked).
    config: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    last_polled_at: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    template = relationship("Template", lazy="joined")
    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="instance", order_by="Deployment.created_at.desc()"
    )


class Deployment(Base):
    """One lifecycle step of an instance: a deploy, redeploy, restart, stop, start, delete."""

    __tablename__ = "deployments"
    __table_args__ = (
        Index("idx_deployments_instance_id", "instance_id"),
        Index("ix_deployments_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    # NULL for steps that create no Railway deployment (stop, delete).
    railway_deployment_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(30), default="deploy", server_default="deploy")
    status: Mapped[str] = mapped_column(String(50))
    logs: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    triggered_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()

    instance: Mapped[Instance] = relationship(back_populates="deployments")
