"""Workspaces, members and invitations under /api/workspaces."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from railsaas.schemas.common import Body

Role = Literal["owner", "admin", "member", "viewer"]
InvitationStatus = Literal["pending", "expired", "accepted", "revoked"]


class WorkspaceOut(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    status: Literal["active", "suspended", "deleted"]
    role: Role = Field(description="Your role in this workspace.")
    created_at: datetime

    @classmethod
    def of(cls, tenant, role: str) -> WorkspaceOut:
        return cls(
            id=tenant.id,
            name=tenant.name,
            slug=tenant.slug,
            status=tenant.status,
            role=role,
            created_at=tenant.created_at,
        )


class WorkspaceCreate(Body):
    name: str = Field(min_length=1, max_length=100)


class WorkspaceUpdate(Body):
    name: str = Field(min_length=1, max_length=100)


class MemberOut(BaseModel):
    user_id: uuid.UUID
    name: str
    email: str
    role: Role
    joined_at: datetime

    @classmethod
    def of(cls, member) -> MemberOut:
        return cls(
            user_id=member.user_id,
            name=member.name,
            email=member.email,
            role=member.role,
            joined_at=member.joined_at,
        )


class MemberUpdate(Body):
    role: Role


class InvitationCreate(Body):
    email: str = Field(max_length=320, json_schema_extra={"format": "email"})
    role: Role = "member"


class InvitationOut(BaseModel):
    """The link itself is only ever emailed to the invitee, never returned."""

    id: uuid.UUID
    email: str
    role: Role
    status: InvitationStatus
    invited_by: uuid.UUID | None
    expires_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, inv, status: str) -> InvitationOut:
        return cls(
            id=inv.id,
            email=inv.email,
            role=inv.role,
            status=status,
            invited_by=inv.invited_by,
            expires_at=inv.expires_at,
            created_at=inv.created_at,
        )


class TransferRequest(Body):
    user_id: uuid.UUID = Field(description="The member who becomes owner; you become admin.")


class AcceptRequest(Body):
    token: str = Field(
        min_length=1,
        max_length=2048,
        description="The token from the invitation link (/invitations/accept/<token>).",
    )
