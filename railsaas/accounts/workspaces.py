"""Creating a workspace (tenant) with its first owner: shared by sign-up and "New workspace".

Kept apart from accounts.auth and teams.service so both can use it without importing each
other.
"""

from __future__ import annotations

import re
import secrets
import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from railsaas.db import get_context, set_context
from railsaas.models import Membership, Tenant

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


def slug_for(name: str) -> str:
    base = _SLUG_JUNK.sub("-", name.lower()).strip("-")[:40].strip("-") or "workspace"
    return f"{base}-{secrets.token_hex(3)}"


def create_tenant(
    session: Session, *, name: str, owner_id: uuid.UUID, tenant_id: uuid.UUID | None = None
) -> Tenant:
    """Insert a workspace and its owner's membership; leaves the session's RLS context on the
    new workspace (the policies admit a new workspace only while it is the selected one)."""
    tenant_id = tenant_id or uuid.uuid4()
    set_context(session, get_context(session).with_tenant(tenant_id))
    for attempt in range(5):  # slugs are globally unique; other workspaces are invisible
        try:
            with session.begin_nested():
                tenant = Tenant(id=tenant_id, name=name[:255], slug=slug_for(name))
                session.add(tenant)
                session.flush()
            break
        except IntegrityError:
            if attempt == 4:
                raise
    session.add(Membership(tenant_id=tenant_id, user_id=owner_id, role="owner"))
    session.flush()
    return tenant
