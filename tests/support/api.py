"""Helpers for tests/api (test modules import them from here, not from a conftest)."""

from __future__ import annotations

from sqlalchemy import select

from railsaas.accounts import api_tokens
from railsaas.context import Workspace
from railsaas.db import TenantContext
from railsaas.extensions import db
from railsaas.models import Membership, Tenant
from tests.support import DEFAULT_PASSWORD, two_factor


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def auth_header(client, user) -> dict[str, str]:
    """The Authorization header of `user` signed in through the login API."""
    return bearer(session_token(client, user))


def member_of(session, tenant_id, user_id) -> Workspace:
    """The workspace as the request context sees it for this member (their real role)."""
    role = session.scalar(
        select(Membership.role).where(
            Membership.tenant_id == tenant_id, Membership.user_id == user_id
        )
    )
    return Workspace(tenant=session.get(Tenant, tenant_id), role=role)


def make_token(user, tenant, scopes=("read",), name=None, days=30) -> tuple[str, object]:
    """A personal token of `user` in `tenant`: (secret, row). A platform admin is enrolled
    in 2FA first (the admin API refuses admins without it)."""
    if two_factor.is_admin(user.id):
        two_factor.enrol(user.id)
    with db.scope(TenantContext(tenant_id=tenant.id, user_id=user.id)) as s:
        row, secret = api_tokens.create(
            s,
            member_of(s, tenant.id, user.id),
            user_id=user.id,
            name=name or f"token {'-'.join(scopes)}",
            scopes=list(scopes),
            expires_in_days=days,
        )
    return secret, row


def session_token(client, user) -> str:
    """An access token of `user` from the login API; a platform admin is enrolled in 2FA
    and sends a code."""
    body = {"email": user.email, "password": DEFAULT_PASSWORD}
    if two_factor.enrol_if_admin(user.id):
        body["totp"] = two_factor.fresh_code(user.id)
    resp = client.post("/api/auth/login", json=body)
    assert resp.status_code == 200, resp.json
    return resp.json["access_token"]
