"""Helpers for tests/teams (test modules import them from here, not from a conftest)."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import String, cast, select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, Email, Invitation, Membership, OutboxMessage

ROLES = ("owner", "admin", "member", "viewer")


def role_of(tenant_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
    with db.scope(SYSTEM) as s:
        return s.scalar(
            select(Membership.role).where(
                Membership.tenant_id == tenant_id, Membership.user_id == user_id
            )
        )


def audits(tenant_id: uuid.UUID | None = None, action: str | None = None) -> list[AuditLog]:
    with db.scope(SYSTEM) as s:
        stmt = select(AuditLog).order_by(AuditLog.id)
        if tenant_id is not None:
            stmt = stmt.where(AuditLog.tenant_id == tenant_id)
        if action is not None:
            stmt = stmt.where(AuditLog.action == action)
        return list(s.scalars(stmt))


def invitations(tenant_id: uuid.UUID) -> list[Invitation]:
    with db.scope(SYSTEM) as s:
        return list(
            s.scalars(
                select(Invitation)
                .where(Invitation.tenant_id == tenant_id)
                .order_by(Invitation.created_at)
            )
        )


def invitation_link(to: str) -> str:
    """The path of the link in the newest invitation email to `to`."""
    with db.scope(SYSTEM) as s:
        # Newest by the outbox's sequence: now() is one instant inside a test's transaction.
        email = s.scalars(
            select(Email)
            .join(OutboxMessage, OutboxMessage.args["email_id"].astext == cast(Email.id, String))
            .where(Email.to_address == to, Email.kind == "teams/invitation")
            .order_by(OutboxMessage.id.desc())
        ).first()
        assert email is not None, f"no invitation email to {to}"
        m = re.search(r"https?://[^/\s]+(/invitations/accept/\S+)", email.text_body)
        assert m, email.text_body
        return m.group(1)


def emails_to(to: str) -> list[Email]:
    with db.scope(SYSTEM) as s:
        return list(s.scalars(select(Email).where(Email.to_address == to)))
