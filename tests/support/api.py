"""Helpers for tests/api (test modules import them from here, not from a conftest)."""

from __future__ import annotations

from railsaas.accounts import api_tokens
from railsaas.db import TenantContext
from railsaas.extensions import db
from tests.support import DEFAULT_PASSWORD


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def make_token(user, tenant, scopes=("read",), name=None, days=30) -> tuple[str, object]:
    """A personal token of `user` in `tenant`: (secret, row)."""
    with db.scope(TenantContext(tenant_id=tenant.id, user_id=user.id)) as s:
        row, secret = api_tokens.create(s, tenant_id=tenant.id, user_id=user.id,
                                        name=name or f"token {'-'.join(scopes)}",
                                        scopes=list(scopes), expires_in_days=days)
    return secret, row


def session_token(client, user) -> str:
    resp = client.post("/api/auth/login", json={"email": user.email,
                                                "password": DEFAULT_PASSWORD})
    assert resp.status_code == 200, resp.json
    return resp.json["access_token"]
