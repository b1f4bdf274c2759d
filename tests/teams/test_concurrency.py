"""Two owners demoting each other at the same moment must not leave the workspace without
an owner: membership changes lock the workspace row and re-read the caller's role."""

from __future__ import annotations

import threading

from sqlalchemy import select

from railsaas.context import Workspace
from railsaas.db import SYSTEM, TenantContext, set_context
from railsaas.errors import Conflict, Forbidden
from railsaas.extensions import db
from railsaas.models import Membership, Tenant
from railsaas.teams import service as teams


def _workspace(session, tenant_id, user_id) -> Workspace:
    tenant = session.get(Tenant, tenant_id)
    role = session.scalar(
        select(Membership.role).where(
            Membership.tenant_id == tenant_id, Membership.user_id == user_id
        )
    )
    return Workspace(tenant=tenant, role=role)


def test_owners_demoting_each_other_at_once_leave_one_owner(app, committed_factory):
    tenant = committed_factory.tenant(name="Duo")
    a, b = committed_factory.user(), committed_factory.user()
    committed_factory.member(tenant, a, "owner")
    committed_factory.member(tenant, b, "owner")
    outcome: dict[str, object] = {}

    with app.app_context():
        first = db.sessionmaker()
        db_ctx = TenantContext(tenant_id=tenant.id, user_id=a.id)
        set_context(first, db_ctx)
        # A demotes B and holds the transaction open (the workspace row stays locked).
        teams.change_role(first, _workspace(first, tenant.id, a.id), a.id, b.id, "admin")

        def b_demotes_a():
            with app.app_context():
                try:
                    with db.scope(TenantContext(tenant_id=tenant.id, user_id=b.id)) as s:
                        # B's request began while B was still an owner.
                        stale = Workspace(tenant=s.get(Tenant, tenant.id), role="owner")
                        teams.change_role(s, stale, b.id, a.id, "admin")
                    outcome["b"] = "changed"
                except Forbidden:
                    outcome["b"] = "forbidden"

        other = threading.Thread(target=b_demotes_a)
        other.start()
        other.join(0.5)
        assert other.is_alive(), "B did not wait for A's lock"
        first.commit()
        first.close()
        other.join(10)

    assert outcome["b"] == "forbidden"  # re-read after the lock: B is an admin now
    with db.scope(SYSTEM) as s:
        roles = dict(
            s.execute(
                select(Membership.user_id, Membership.role).where(Membership.tenant_id == tenant.id)
            ).all()
        )
    assert roles == {a.id: "owner", b.id: "admin"}


def test_the_last_two_owners_leaving_at_once_leave_one(app, committed_factory):
    tenant = committed_factory.tenant(name="Pair")
    a, b = committed_factory.user(), committed_factory.user()
    committed_factory.member(tenant, a, "owner")
    committed_factory.member(tenant, b, "owner")
    first_id, second_id = a.id, b.id
    results = {}

    with app.app_context():
        first = db.sessionmaker()
        set_context(first, TenantContext(tenant_id=tenant.id, user_id=first_id))
        teams.leave(first, _workspace(first, tenant.id, first_id), first_id)

        def second_leaves():
            with app.app_context():
                try:
                    with db.scope(TenantContext(tenant_id=tenant.id, user_id=second_id)) as s:
                        teams.leave(
                            s, Workspace(tenant=s.get(Tenant, tenant.id), role="owner"), second_id
                        )
                    results["second"] = "left"
                except Conflict as exc:
                    results["second"] = exc.code

        other = threading.Thread(target=second_leaves)
        other.start()
        other.join(0.5)
        assert other.is_alive()
        first.commit()
        first.close()
        other.join(10)

    assert results["second"] == "last_owner"
    with db.scope(SYSTEM) as s:
        owners = s.scalars(
            select(Membership.user_id).where(
                Membership.tenant_id == tenant.id, Membership.role == "owner"
            )
        ).all()
    assert owners == [second_id]
