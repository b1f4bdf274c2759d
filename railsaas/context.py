"""Who is asking and for which workspace: the request's user, workspace and membership, and
the row-level-security context derived from them.

Browser sessions store the user id with its session version (so a bump ends every other
session) and the selected workspace id. API requests authenticate with a Bearer token
(see railsaas.accounts.auth) and name their workspace through the token or `X-Workspace-ID`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import Flask, g, request, session
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from railsaas.db import TenantContext, get_context, set_context
from railsaas.extensions import db, login_manager
from railsaas.models import Membership, Tenant, User

SESSION_TENANT_KEY = "tenant_id"


@dataclass
class Workspace:
    """The selected workspace and the current user's role in it."""

    tenant: Tenant
    role: str

    @property
    def id(self) -> uuid.UUID:
        return self.tenant.id


@login_manager.user_loader
def _load_user(token: str) -> User | None:
    try:
        raw_id, raw_version = token.split(":", 1)
        user_id, version = uuid.UUID(raw_id), int(raw_version)
    except ValueError:
        return None
    return load_user(user_id, version)


def load_user(user_id: uuid.UUID, session_version: int | None = None) -> User | None:
    """Read a user under their own RLS context; None if gone, suspended or logged out
    everywhere since (session version bumped)."""
    current = get_context(db.session)
    if current.user_id != user_id or current.role:
        # An API token has already set this user's context (in its workspace): keep it,
        # rather than narrow it here and widen it again when the request is bound.
        set_context(db.session, TenantContext(user_id=user_id))
    user = db.session.get(User, user_id)
    if user is None or user.is_suspended:
        return None
    if session_version is not None and user.session_version != session_version:
        return None
    return user


def memberships_of(user_id: uuid.UUID) -> list[Membership]:
    # The tenant comes with its membership (one query on every request, not two).
    stmt = (
        select(Membership)
        .join(Membership.tenant)
        .options(contains_eager(Membership.tenant))
        .where(Membership.user_id == user_id, Tenant.status != "deleted")
        .order_by(Tenant.name)
    )
    return list(db.session.scalars(stmt))


def select_workspace(user: User, wanted: uuid.UUID | str | None) -> Workspace | None:
    """The workspace to act in: `wanted` if the user belongs to it, else their first."""
    memberships = memberships_of(user.id)
    if not memberships:
        return None
    chosen = memberships[0]
    if wanted:
        for m in memberships:
            if str(m.tenant_id) == str(wanted):
                chosen = m
                break
    return Workspace(tenant=chosen.tenant, role=chosen.role)


def bind(user: User | None, workspace: Workspace | None, *, admin: bool = False) -> None:
    """Set g.user / g.workspace and the RLS context of the request's session."""
    g.user = user
    g.workspace = workspace
    role = "platform_admin" if admin and user is not None and user.is_platform_admin else ""
    set_context(
        db.session,
        TenantContext(
            tenant_id=workspace.id if workspace else None,
            user_id=user.id if user else None,
            role=role,
        ),
    )


def init_context(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @app.before_request
    def _bind_browser_session() -> None:
        g.user, g.workspace = None, None
        if request.blueprint == "api" or request.path.startswith("/api/"):
            return  # the API authenticates per request (Bearer tokens), not with cookies
        if request.endpoint == "static":
            return
        if current_user.is_authenticated:
            user = current_user._get_current_object()
            workspace = select_workspace(user, session.get(SESSION_TENANT_KEY))
            if workspace is not None and session.get(SESSION_TENANT_KEY) != str(workspace.id):
                # Written only when it changes: an unchanged session is not signed and sent
                # back again on every request (each poll of a status badge, say).
                session[SESSION_TENANT_KEY] = str(workspace.id)
            bind(user, workspace, admin=request.blueprint == "admin")
        else:
            bind(None, None)

    @app.context_processor
    def _inject() -> dict:
        return {"workspace": g.get("workspace")}
