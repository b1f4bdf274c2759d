"""The audit log: who did what to which thing, from where. Append-only by grant (every login
may INSERT and SELECT audit_log, never UPDATE, DELETE or TRUNCATE).

    audit.record(session, "instance.deploy", target_type="instance", target_id=inst.id,
                 details={"template": tpl.code})

Actions are "area.verb" (auth.login, instance.stop, billing.plan_change, admin.user_suspend).
Every state-changing request must record at least one row: the audit guard
(railsaas.observability.audit_guard) checks it after each request. A view that changes
nothing worth auditing (switching the selected workspace, a search form that POSTs) says so
with `@audit.exempt("why")`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from flask import g, has_request_context, request
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from railsaas.db import get_context
from railsaas.models import AuditLog, Tenant, User
from railsaas.observability.logging import current_request_id
from railsaas.platform import unscoped

F = TypeVar("F", bound=Callable[..., Any])


def _client_ip() -> str | None:
    # With TRUSTED_PROXIES set, ProxyFix (create_app) has already resolved X-Forwarded-For.
    return request.remote_addr if has_request_context() else None


def record(
    session: Session,
    action: str,
    *,
    target_type: str | None = None,
    target_id: Any = None,
    details: dict[str, Any] | None = None,
    tenant_id: uuid.UUID | None | str = "current",
    actor_user_id: uuid.UUID | None | str = "current",
    actor_type: str | None = None,
) -> AuditLog:
    """Append an audit row in the caller's transaction.

    tenant_id / actor_user_id default to the session's RLS context (the selected workspace
    and signed-in user); pass None explicitly for events outside any workspace.
    The request id (or the task's) goes into details, so a row leads to its log lines.
    """
    ctx = get_context(session)
    if tenant_id == "current":
        tenant_id = ctx.tenant_id
    if actor_user_id == "current":
        actor_user_id = ctx.user_id
    in_request = has_request_context()
    if actor_type is None:
        if in_request and g.get("api_token_id"):
            actor_type = "api_token"
        elif ctx.role == "platform_admin":
            actor_type = "admin"
        elif ctx.role == "system" and actor_user_id is None:
            actor_type = "system"
        else:
            actor_type = "user" if actor_user_id else "anonymous"
    details = dict(details or {})
    if in_request and g.get("api_token_id"):
        details["api_token_id"] = str(g.api_token_id)
    request_id = (g.get("request_id") if in_request else None) or current_request_id()
    if request_id:
        details.setdefault("request_id", request_id)
    row = AuditLog(
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        actor_type=actor_type,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        ip=_client_ip(),
        user_agent=(request.user_agent.string[:512] or None) if in_request else None,
        details=details or None,
    )
    if tenant_id is None:
        unscoped.insert_row(session, row)  # a row of no workspace: see platform/unscoped.py
    else:
        session.add(row)
    if in_request:
        g.audit_rows = g.get("audit_rows", 0) + 1
    return row


def exempt(reason: str) -> Callable[[F], F]:
    """Mark a state-changing view as needing no audit row, and say why (read by the guard
    and by the URL-map test)."""
    if not reason:
        raise ValueError("say why the view needs no audit row")

    def decorate(view: F) -> F:
        view.audit_exempt = reason  # type: ignore[attr-defined]
        return view

    return decorate


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    tenant_id: uuid.UUID | None = None
    actor_user_id: uuid.UUID | None = None
    actor_type: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." ("instance.")
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def query(filters: Filters = Filters(), *, before_id: int | None = None, limit: int = 50) -> Select:
    """Newest first, keyset-paginated by id. RLS decides which workspaces are visible: a
    workspace session sees its own rows, an admin route every row."""
    stmt = select(AuditLog)
    f = filters
    if f.tenant_id:
        stmt = stmt.where(AuditLog.tenant_id == f.tenant_id)
    if f.actor_user_id:
        stmt = stmt.where(AuditLog.actor_user_id == f.actor_user_id)
    if f.actor_type:
        stmt = stmt.where(AuditLog.actor_type == f.actor_type)
    if f.action:
        if f.action.endswith("."):
            stmt = stmt.where(AuditLog.action.startswith(f.action, autoescape=True))
        else:
            stmt = stmt.where(AuditLog.action == f.action)
    if f.target_type:
        stmt = stmt.where(AuditLog.target_type == f.target_type)
    if f.target_id:
        stmt = stmt.where(AuditLog.target_id == f.target_id)
    if f.since:
        stmt = stmt.where(AuditLog.created_at >= f.since)
    if f.until:
        stmt = stmt.where(AuditLog.created_at < f.until)
    if before_id:
        stmt = stmt.where(AuditLog.id < before_id)
    return stmt.order_by(AuditLog.id.desc()).limit(limit)


@dataclass(frozen=True)
class Entry:
    row: AuditLog
    actor_email: str | None  # None when RLS hides the actor (staff acting on a workspace)
    workspace_name: str | None


def entries(
    session: Session, filters: Filters = Filters(), *, before_id: int | None = None, limit: int = 50
) -> list[Entry]:
    """Rows with the actor's email and the workspace's name, in one query."""
    rows = query(filters, before_id=before_id, limit=limit).subquery()
    entry = aliased(AuditLog, rows)
    stmt = (
        select(entry, User.email, Tenant.name)
        .outerjoin(User, User.id == entry.actor_user_id)
        .outerjoin(Tenant, Tenant.id == entry.tenant_id)
        .order_by(entry.id.desc())
    )
    return [Entry(r, email, name) for r, email, name in session.execute(stmt).all()]


def recent(session: Session, tenant_id: uuid.UUID, limit: int = 10) -> list[AuditLog]:
    """A workspace's latest rows (the dashboard's activity feed)."""
    return list(session.scalars(query(Filters(tenant_id=tenant_id), limit=limit)))


def describe(row: AuditLog) -> str:
    """A short human sentence for an action ("instance.stop" -> "Instance stop")."""
    area, _, verb = row.action.partition(".")
    text = f"{area} {verb.replace('_', ' ')}".strip()
    return text[:1].upper() + text[1:]
