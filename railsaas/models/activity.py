"""What happened (audit log), what to tell people (notifications), and what to do after
commit (outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, Text, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from railsaas.models.base import Base, created_at, uuid_pk


class AuditLog(Base):
    """Append-only: every login may INSERT and SELECT, never UPDATE or DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_audit_log_created_at", "created_at"),
        Index("ix_audit_log_action", "action"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    # NULL for events outside any workspace (a failed login for an unknown email).
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="SET NULL")
    )
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # 'user' | 'admin' | 'api_token' | 'system' | 'anonymous'
    actor_type: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(String(512))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at()


class Notification(Base):
    """In-app notification (the bell). user_id NULL: for every member of the workspace."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index(
            "ix_notifications_tenant_id_user_id_created_at", "tenant_id", "user_id", "created_at"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(512))
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()


class OutboxMessage(Base):
    """Work to do after commit, written in the same transaction as the change that needs it.

    After commit the web process enqueues the Celery task; a beat sweep re-enqueues anything
    left undispatched (a crash between commit and enqueue), so nothing is lost.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_outbox_pending", "created_at", postgresql_where=text("dispatched_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    task: Mapped[str] = mapped_column(String(255))  # Celery task name
    args: Mapped[dict[str, Any]] = mapped_column(JSONB)  # ids only, never secrets
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    dispatched_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()


class Email(Base):
    """An email to send, rendered when queued; the `mail.deliver` task sends it by id, so no
    link or token ever travels as a task argument."""

    __tablename__ = "emails"
    __table_args__ = (
        Index("ix_emails_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_emails_unsent", "created_at", postgresql_where=text("sent_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    to_address: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(100))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
