"""Users: the profile a person sees and edits, and what platform admins may change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from railsaas.schemas.auth import TokenPair
from railsaas.schemas.common import Body


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    role: Literal["user", "admin"]
    email_verified: bool
    pending_email: str | None = None
    created_at: datetime
    last_login_at: datetime | None = None


class AdminUserOut(UserOut):
    is_suspended: bool
    session_version: int


class ProfileUpdate(Body):
    """Any subset. Changing email or password needs current_password. A new email takes
    effect once confirmed through the link sent to it (until then it is pending_email)."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    email: str | None = Field(default=None, max_length=320, json_schema_extra={"format": "email"})
    new_password: str | None = Field(default=None, max_length=1024)
    current_password: str | None = Field(default=None, max_length=1024)


class ProfileOut(UserOut):
    """After a password change every token of the user is revoked, this one included;
    `tokens` is a fresh pair for the caller."""

    tokens: TokenPair | None = None


class AdminUserUpdate(Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    role: Literal["user", "admin"] | None = None
    is_suspended: bool | None = None
    email_verified: bool | None = None
