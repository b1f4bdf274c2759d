"""Platform admins managing user accounts (the admin API and, later, the admin panel).

Callers run as the admin login (context role 'platform_admin'), which sees every user and
workspace.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from railsaas import versions
from railsaas.accounts.auth import end_sessions
from railsaas.errors import Conflict, NotFound
from railsaas.models import Instance, Membership, Tenant, User
from railsaas.platform import audit

ADMIN_FIELDS = ("name", "role", "is_suspended", "email_verified")


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def admin_update(
    session: Session, admin: User, user_id: uuid.UUID, changes: dict[str, Any]
) -> User:
    user = get_user(session, user_id)
    if user.id == admin.id and (changes.get("role") == "user" or changes.get("is_suspended")):
        raise Conflict("You cannot demote or suspend yourself.")
    changed = {k: v for k, v in changes.items() if k in ADMIN_FIELDS and getattr(user, k) != v}
    if "name" in changed:
        changed["name"] = " ".join(str(changed["name"]).split()) or user.name
    for key, value in changed.items():
        setattr(user, key, value)
    if changed.get("is_suspended") or "role" in changed:
        end_sessions(session, user)  # suspension or a new role takes effect now
    if changed:
        audit.record(
            session,
            "admin.user_update",
            target_type="user",
            target_id=user.id,
            tenant_id=None,
            actor_user_id=admin.id,
            details={"fields": sorted(changed)},
        )
    session.flush()
    return user


def delete_user(session: Session, admin: User, user_id: uuid.UUID) -> None:
    """Delete an account. Workspaces only they belong to are closed (status 'deleted'), which
    needs their instances gone first; a workspace they alone own with other members needs a
    new owner first. Either way nothing is deleted while it would strand someone."""
    user = get_user(session, user_id)
    if user.id == admin.id:
        raise Conflict("You cannot delete your own account.")
    to_close: list[Tenant] = []
    member_of: list[uuid.UUID] = []
    for m in session.scalars(select(Membership).where(Membership.user_id == user.id)):
        member_of.append(m.tenant_id)
        tenant = m.tenant
        if tenant.status == "deleted":
            continue
        members = session.scalar(
            select(func.count()).select_from(Membership).where(Membership.tenant_id == tenant.id)
        )
        owners = session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.tenant_id == tenant.id, Membership.role == "owner")
        )
        if members == 1:
            live = session.scalar(
                select(func.count())
                .select_from(Instance)
                .where(Instance.tenant_id == tenant.id, Instance.status != "deleted")
            )
            if live:
                raise Conflict(
                    f"Workspace '{tenant.name}' still has {live} instance(s): delete them first."
                )
            to_close.append(tenant)
        elif m.role == "owner" and owners == 1:
            raise Conflict(
                f"They are the only owner of workspace '{tenant.name}': make "
                "another member owner first."
            )
    for tenant in to_close:
        tenant.status = "deleted"
    audit.record(
        session,
        "admin.user_delete",
        target_type="user",
        target_id=user.id,
        tenant_id=None,
        actor_user_id=admin.id,
        details={"email": user.email, "closed_workspaces": [str(t.id) for t in to_close]},
    )
    session.flush()
    # Core DELETE: the database cascades memberships and tokens (the ORM would try to
    # null their foreign keys instead). The unit of work sees none of it, so the version
    # tokens of the user and of every workspace they were in are bumped here: a session's
    # cached request context (railsaas.context_cache) must not outlive the account.
    versions.touch_user(session, user.id)
    for tenant_id in member_of:
        versions.touch_workspace(session, tenant_id)
    session.execute(delete(User).where(User.id == user.id))
    session.expunge(user)
