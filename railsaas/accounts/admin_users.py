"""The admin panel's user management: search, one user with their workspaces, suspend and
platform role. Callers run as the admin login (every user and workspace).

Suspend and role changes go through the accounts area's `users.admin_update` (the admin API
uses it too): it ends the user's sessions, so the change takes effect at their next request,
and audits "admin.user_update" with the fields changed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from railsaas.accounts import users
from railsaas.errors import Conflict, NotFound, ValidationFailed
from railsaas.models import Instance, Membership, Tenant, User


@dataclass(frozen=True)
class UserRow:
    user: User
    workspaces: int


def search(
    session: Session, q: str = "", status: str = "", *, offset: int = 0, limit: int = 50
) -> list[UserRow]:
    """Users whose email or name contains `q`; status: '', 'suspended', 'admins',
    'unverified'. One query, workspace counts included."""
    ws = select(Membership.user_id, func.count().label("n")).group_by(Membership.user_id).subquery()
    stmt = (
        select(User, func.coalesce(ws.c.n, 0))
        .outerjoin(ws, ws.c.user_id == User.id)
        .order_by(User.created_at.desc(), User.id)
        .offset(offset)
        .limit(limit)
    )
    q = q.strip()
    if q:
        stmt = stmt.where(
            or_(
                func.lower(User.email).contains(q.lower(), autoescape=True),
                func.lower(User.name).contains(q.lower(), autoescape=True),
            )
        )
    if status == "suspended":
        stmt = stmt.where(User.is_suspended.is_(True))
    elif status == "admins":
        stmt = stmt.where(User.role == "admin")
    elif status == "unverified":
        stmt = stmt.where(User.email_verified.is_(False))
    return [UserRow(u, n) for u, n in session.execute(stmt).all()]


@dataclass(frozen=True)
class UserWorkspace:
    tenant: Tenant
    role: str
    live_instances: int


def get(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def workspaces_of(session: Session, user_id: uuid.UUID) -> list[UserWorkspace]:
    live = (
        select(Instance.tenant_id, func.count().label("n"))
        .where(Instance.status != "deleted")
        .group_by(Instance.tenant_id)
        .subquery()
    )
    rows = session.execute(
        select(Tenant, Membership.role, func.coalesce(live.c.n, 0))
        .join(Membership, Membership.tenant_id == Tenant.id)
        .outerjoin(live, live.c.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id)
        .order_by(Tenant.name)
    ).all()
    return [UserWorkspace(t, role, n) for t, role, n in rows]


def set_suspended(session: Session, admin: User, user_id: uuid.UUID, suspended: bool) -> User:
    """Suspend or reinstate: the accounts area's admin update (it ends their sessions and
    audits "admin.user_update")."""
    if user_id == admin.id:
        raise Conflict("You cannot suspend yourself.")
    return users.admin_update(session, admin, user_id, {"is_suspended": suspended})


def set_role(session: Session, admin: User, user_id: uuid.UUID, role: str) -> User:
    if role not in ("user", "admin"):
        raise ValidationFailed("Choose user or admin.", details={"role": "user or admin"})
    if user_id == admin.id:
        raise Conflict("You cannot change your own platform role.")
    return users.admin_update(session, admin, user_id, {"role": role})
