"""The audit log: who did what to which thing, from where. Append-only by grant."""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy.orm import Session

from railsaas.db import get_context
from railsaas.models import AuditLog
from railsaas.services.unscoped import unscoped_writes


def _client_ip() -> str | None:
    # With TRUSTED_PROXIES set, ProxyFix (create_app) has already resolved X-Forwarded-For.
    return request.remote_addr if has_request_context() else None


def record(session: Session, action: str, *, target_type: str | None = None,
           target_id: Any = None, details: dict[str, Any] | None = None,
           tenant_id: uuid.UUID | None | str = "current",
           actor_user_id: uuid.UUID | None | str = "current",
           actor_type: str | None = None) -> AuditLog:
    """Append an audit row in the caller's transaction.

    tenant_id / actor_user_id default to the session's RLS context (the selected workspace
    and signed-in user); pass None explicitly for events outside any workspace.
    """
    ctx = get_context(session)
    if tenant_id == "current":
        tenant_id = ctx.tenant_id
    if actor_user_id == "current":
        actor_user_id = ctx.user_id
    if actor_type is None:
        if has_request_context() and g.get("api_token_id"):
            actor_type = "api_token"
        elif ctx.role == "platform_admin":
            actor_type = "admin"
        elif ctx.role == "system" and actor_user_id is None:
            actor_type = "system"
        else:
            actor_type = "user" if actor_user_id else "anonymous"
    if has_request_context() and g.get("api_token_id"):
        details = {**(details or {}), "api_token_id": str(g.api_token_id)}
    row = AuditLog(
        tenant_id=tenant_id, actor_user_id=actor_user_id, actor_type=actor_type,
        action=action, target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        ip=_client_ip(),
        user_agent=(request.user_agent.string[:512] or None) if has_request_context() else None,
        details=details,
    )
    if tenant_id is None:
        with unscoped_writes(session):  # a row of no workspace: see services/unscoped.py
            session.add(row)
    else:
        session.add(row)
    return row
