"""Personal API tokens (accounts/api_tokens.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from railsaas.accounts import api_tokens
from railsaas.schemas.common import Body, PageQuery

Scope = Literal["read", "deploy", "admin"]
TokenStatus = Literal["active", "expired", "revoked"]


class TokenCreate(Body):
    name: str = Field(
        min_length=1,
        max_length=api_tokens.NAME_MAX,
        description="What the token is for, e.g. the script that uses it.",
    )
    scopes: list[Scope] = Field(
        min_length=1,
        max_length=3,
        description=(
            "read < deploy < admin, each including the ones before it: ['deploy'] is stored as "
            "['read', 'deploy']. A token may only create tokens within its own scopes."
        ),
    )
    expires_in_days: int = Field(default=api_tokens.DEFAULT_DAYS, ge=1, le=api_tokens.MAX_DAYS)


class TokenOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The token's first characters, to recognise it by.")
    scopes: list[Scope]
    status: TokenStatus
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Recorded at most once a minute.")
    revoked_at: datetime | None

    @classmethod
    def of(cls, token) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            scopes=list(token.scopes),
            status=api_tokens.status_of(token),
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


class TokenCreated(TokenOut):
    token: str = Field(
        description="The secret, shown this once: store it now. Send it as "
        "`Authorization: Bearer <token>`."
    )


class TokenListQuery(PageQuery):
    status: TokenStatus | None = Field(default=None, description="Only tokens in this state.")
