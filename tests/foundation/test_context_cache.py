"""The signed-in request context from the cache Redis (railsaas.context_cache): a page read
costs no statement while the user, the workspace and its memberships are unchanged, and
every change to them (suspension, removal, a new role, a rename, a deleted account) takes
effect at the next page. Tampered or unreadable snapshots are ignored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from railsaas import context_cache
from railsaas.accounts import users
from railsaas.db import SYSTEM, TenantContext, set_context
from railsaas.extensions import cache_redis, db
from railsaas.models import Membership, Tenant, User
from tests.support.queries import counting
from tests.support.web import CsrfClient, signed_in


def _warm(client) -> None:
    """The first page loads the context from the database and keeps it."""
    assert client.get("/dashboard").status_code == 200


def _stored(app, user, tenant) -> str | None:
    with app.app_context():
        return cache_redis().get(f"ctx:{user.id}:{tenant.id}")


def _workspace(factory, name: str, user=None, role: str = "owner"):
    user = user or factory.user()
    tenant = factory.tenant(name=name)
    factory.member(tenant, user, role)
    return user, tenant


def _body(raw: str) -> dict:
    """What a stored snapshot says (its JSON before the signature: <body>.<signature>)."""
    return json.loads(raw.rsplit(".", 1)[0])


@pytest.fixture
def owner(app, factory):
    user, tenant = _workspace(factory, "Owner Works")
    client = signed_in(app, user, tenant)
    _warm(client)
    return user, tenant, client


def test_an_unchanged_context_costs_no_statement(owner):
    user, tenant, client = owner
    with counting() as statements:
        page = client.get("/dashboard")
    assert page.status_code == 200
    assert statements == []  # the context from the cache, the overview drawn before
    text = page.get_data(as_text=True)
    assert user.name in text
    assert tenant.name in text


def test_the_snapshot_is_signed_and_holds_no_password_hash(app, owner):
    user, tenant, client = owner
    raw = _stored(app, user, tenant)
    assert raw is not None
    doc = _body(raw)
    assert doc["user"]["id"] == str(user.id)
    assert doc["role"] == "owner"
    assert "password_hash" not in doc["user"]
    assert user.password_hash not in raw


def test_what_the_snapshot_leaves_out_loads_when_read(app, owner):
    """A request served from the snapshot still reads the password hash and the plan (from
    the database, on first use) and sees the same row as a query would."""
    user, tenant, client = owner
    with app.test_request_context():
        set_context(db.session, TenantContext(tenant_id=tenant.id, user_id=user.id))
        snapshot, tokens = context_cache.lookup(
            db.session, user.id, user.session_version, tenant.id
        )
        assert snapshot is not None
        assert tokens is not None
        with counting() as statements:
            assert snapshot.user.email == user.email
            assert snapshot.tenant.slug == tenant.slug
        assert statements == []
        with counting() as statements:
            assert snapshot.user.password_hash.startswith("$2")
        assert len(statements) >= 1
        # The session's one copy: a query for the same row returns the attached object.
        assert db.session.get(User, user.id) is snapshot.user
        db.session.close()


def test_a_suspended_user_is_signed_out_at_their_next_page(app, owner):
    user, tenant, client = owner
    with app.app_context(), db.scope(SYSTEM) as s:
        s.get(User, user.id).is_suspended = True
    resp = client.get("/dashboard")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


def test_a_deleted_account_is_signed_out_at_its_next_page(app, factory):
    admin = factory.user()
    user, tenant = factory.workspace()
    colleague_tenant = factory.workspace()[1]
    factory.member(colleague_tenant, user, "member")
    client = signed_in(app, user, colleague_tenant)
    _warm(client)
    assert _stored(app, user, colleague_tenant) is not None
    with app.app_context(), db.scope(SYSTEM) as s:
        users.delete_user(s, s.get(User, admin.id), user.id)
    resp = client.get("/dashboard")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


def test_a_removed_member_no_longer_sees_the_workspace(app, factory):
    owner_user, tenant = _workspace(factory, "Shared Studio")
    colleague, own = _workspace(factory, "Solo Corner")
    factory.member(tenant, colleague, "member")
    client = signed_in(app, colleague, tenant)
    _warm(client)
    assert "Shared Studio" in client.get("/dashboard").get_data(as_text=True)

    with app.app_context(), db.scope(SYSTEM) as s:
        s.delete(
            s.scalar(
                select(Membership).where(
                    Membership.tenant_id == tenant.id, Membership.user_id == colleague.id
                )
            )
        )
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Shared Studio" not in page
    assert "Solo Corner" in page
    with client.session_transaction() as s:
        assert s["tenant_id"] == str(own.id)


def test_a_new_role_and_a_new_name_take_effect_at_the_next_page(app, factory):
    owner_user, tenant = _workspace(factory, "Before Rename")
    colleague = factory.user()
    factory.member(tenant, colleague, "viewer")
    client = signed_in(app, colleague, tenant)
    _warm(client)
    assert _body(_stored(app, colleague, tenant))["role"] == "viewer"

    with app.app_context(), db.scope(SYSTEM) as s:
        s.scalar(select(Membership).where(Membership.user_id == colleague.id)).role = "admin"
        s.get(Tenant, tenant.id).name = "After Rename"
    page = client.get("/dashboard").get_data(as_text=True)
    assert "After Rename" in page
    assert "Before Rename" not in page
    assert _body(_stored(app, colleague, tenant))["role"] == "admin"


def test_a_tampered_snapshot_is_ignored(app, owner):
    """A snapshot whose signature does not match (written by someone without the app's
    secret) is not believed: the context comes from the database."""
    user, tenant, client = owner
    raw = _stored(app, user, tenant)
    signature = raw.rsplit(".", 1)[1]
    doc = _body(raw)
    doc["role"] = "owner"
    doc["tenant"]["name"] = "Forged Name"
    forged = json.dumps(doc, separators=(",", ":"))
    with app.app_context():
        cache_redis().set(f"ctx:{user.id}:{tenant.id}", f"{forged}.{signature}")
    with counting() as statements:
        page = client.get("/dashboard").get_data(as_text=True)
    assert "Forged Name" not in page
    assert tenant.name in page
    assert _loads_the_context(statements)


def _loads_the_context(statements: list[str]) -> bool:
    """The request read who is asking from the database: the RLS settings, then the user
    with their membership and workspace (railsaas.context)."""
    return (
        len(statements) >= 2
        and statements[0].lstrip().startswith("SELECT set_config('app.tenant_id'")
        and "FROM users" in statements[1]
        and "memberships" in statements[1]
    )


def test_a_write_reads_the_database(app, owner):
    user, tenant, _ = owner
    browser = CsrfClient(app, user=user, workspace=tenant)
    _warm(browser)
    with counting() as statements:
        assert browser.get("/dashboard").status_code == 200
    assert statements == []  # the same session's reads use the snapshot...
    with counting() as statements:
        resp = browser.post("/workspaces/switch", data={"workspace_id": str(tenant.id)})
    assert resp.status_code in (302, 303)
    assert _loads_the_context(statements)  # ... its writes do not


def test_the_admin_area_reads_the_database(app, factory):
    admin, tenant = _workspace(factory, "Admin Desk")
    with app.app_context(), db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    client = signed_in(app, admin, tenant)
    _warm(client)
    with counting() as statements:
        assert client.get("/dashboard").status_code == 200
    assert not _loads_the_context(statements)
    with counting() as statements:
        assert client.get("/admin/").status_code == 200
    assert _loads_the_context(statements)


def test_without_the_cache_the_context_comes_from_the_database(app, owner, monkeypatch):
    user, tenant, client = owner
    monkeypatch.setitem(app.config, "CACHE_REDIS_URL", "redis://127.0.0.1:9/0")
    with counting() as statements:
        page = client.get("/dashboard")
    assert page.status_code == 200
    assert _loads_the_context(statements)
