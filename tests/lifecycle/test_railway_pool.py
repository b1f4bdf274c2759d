"""The pool of Railway workspaces: placement (least loaded open one, pinned, never on a
draining or closed one; none open is a clear refusal that writes nothing), draining and
closing, tokens encrypted at rest and never shown, and the admin page."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, update

from railsaas.db import SYSTEM
from railsaas.errors import Conflict
from railsaas.extensions import db
from railsaas.fleet import admin as fleet
from railsaas.models import AuditLog, Instance, OutboxMessage, RailwayWorkspace, Tenant, User
from railsaas.railway import pool
from tests.support import csrf_from, login_as

HX = {"HX-Request": "true"}


@pytest.fixture
def token_key(app):
    saved = app.config.get("RAILWAY_TOKEN_KEY")
    key = Fernet.generate_key().decode()
    app.config["RAILWAY_TOKEN_KEY"] = key
    pool.reset_clients()
    yield key
    app.config["RAILWAY_TOKEN_KEY"] = saved
    pool.reset_clients()


def add_entry(name: str, state: str = "open", token: str = "tok") -> RailwayWorkspace:
    with db.scope(SYSTEM) as s:
        row = RailwayWorkspace(
            name=name,
            railway_workspace_id=f"rw-{name}",
            token_source=pool.STORED,
            token_ciphertext=pool.encrypt_token(token),
            state=state,
        )
        s.add(row)
        s.flush()
        s.expunge(row)
    pool.forget()
    return row


def environment_entry() -> RailwayWorkspace:
    with db.scope(SYSTEM) as s:
        pool.entries(s)  # made again if an earlier test emptied the tables
        row = s.scalar(
            select(RailwayWorkspace).where(RailwayWorkspace.token_source == "environment")
        )
        s.expunge(row)
        return row


def place(tenant) -> object:
    with db.scope(SYSTEM) as s:
        return pool.place(s, tenant.id)


def placement(tenant):
    with db.scope(SYSTEM) as s:
        return s.get(Tenant, tenant.id, populate_existing=True).railway_workspace_id


def set_state(entry, state: str) -> None:
    with db.scope(SYSTEM) as s:
        s.execute(
            update(RailwayWorkspace).where(RailwayWorkspace.id == entry.id).values(state=state)
        )
    pool.forget()


def load(factory, entry, n: int) -> None:
    tenant = factory.tenant()
    template = factory.template()
    for _ in range(n):
        factory.instance(tenant, template, railway_workspace_id=entry.id)


def test_the_environments_settings_are_the_first_entry(app_ctx, dbconn):
    env = environment_entry()
    assert (env.name, env.token_source, env.state) == ("primary", "environment", "open")
    assert env.token_ciphertext is None  # RAILWAY_API_TOKEN stays in the environment
    assert pool.client_for(env.id) is pool.client_for(None)  # today's client, today's keys
    assert pool.key_prefix(env.id) == "railway"


def test_placement_is_least_loaded_open_then_pinned(app_ctx, dbconn, factory, token_key):
    env = environment_entry()
    b = add_entry("pool-b")
    draining = add_entry("pool-draining", state="draining")
    closed = add_entry("pool-closed", state="closed")
    load(factory, env, 2)
    load(factory, b, 1)

    first = factory.tenant()
    # The emptiest are draining and closed: skipped. B has 1 instance, the environment's 2.
    assert place(first) == b.id
    assert placement(first) == b.id
    load(factory, b, 5)  # B is now the busiest...
    assert place(first) == b.id  # ...and the workspace stays where it was placed
    second = factory.tenant()
    assert place(second) == env.id
    assert {placement(first), placement(second)}.isdisjoint({draining.id, closed.id})


def test_a_draining_workspace_keeps_its_own_and_takes_no_new_ones(
    app_ctx, dbconn, factory, token_key
):
    env = environment_entry()
    b = add_entry("pool-b")
    load(factory, env, 3)
    pinned = factory.tenant()
    assert place(pinned) == b.id
    set_state(b, "draining")
    assert place(pinned) == b.id  # its workspaces keep deploying there
    newcomer = factory.tenant()
    assert place(newcomer) == env.id  # busier, but the only open one


def test_no_open_workspace_is_a_clear_refusal_that_writes_nothing(
    app_ctx, dbconn, factory, token_key
):
    env = environment_entry()
    b = add_entry("pool-b", state="draining")
    set_state(env, "draining")
    tenant = factory.tenant()
    with pytest.raises(pool.NoRailwayCapacity, match="No Railway capacity"):
        place(tenant)
    assert placement(tenant) is None
    set_state(b, "open")
    assert place(tenant) == b.id


def test_a_deploy_with_no_open_workspace_creates_nothing(
    app, client, dbconn, make_customer, ghost, token_key
):
    with app.app_context():
        env = environment_entry()
        set_state(env, "draining")
    customer = make_customer(client)
    token = csrf_from(client.get(f"/templates/{ghost.id}").get_data(as_text=True))
    with db.scope(SYSTEM) as s:
        before = (
            s.scalar(select(func.count()).select_from(Instance)),
            s.scalar(select(func.count()).select_from(OutboxMessage)),
        )
    resp = client.post(
        f"/templates/{ghost.id}/deploy",
        headers={**HX, "X-CSRFToken": token},
        data={"name": "blog", "variables.ADMIN_EMAIL": "ada@example.com"},
    )
    assert resp.status_code == 503
    assert "No Railway capacity" in resp.get_data(as_text=True)
    with db.scope(SYSTEM) as s:
        after = (
            s.scalar(select(func.count()).select_from(Instance)),
            s.scalar(select(func.count()).select_from(OutboxMessage)),
        )
        assert s.get(Tenant, customer.tenant.id).railway_workspace_id is None
    assert after == before


def test_a_deploy_records_where_its_project_lives(app, client, dbconn, make_customer, ghost):
    with app.app_context():
        env = environment_entry()
    customer = make_customer(client)
    token = csrf_from(client.get(f"/templates/{ghost.id}").get_data(as_text=True))
    resp = client.post(
        f"/templates/{ghost.id}/deploy",
        headers={**HX, "X-CSRFToken": token},
        data={"name": "blog", "variables.ADMIN_EMAIL": "ada@example.com"},
    )
    assert resp.status_code == 204
    with db.scope(SYSTEM) as s:
        inst = s.scalar(select(Instance).where(Instance.tenant_id == customer.tenant.id))
        assert inst.railway_workspace_id == env.id
        assert s.get(Tenant, customer.tenant.id).railway_workspace_id == env.id


def test_the_customer_login_cannot_read_the_pool(app, dbconn, factory):
    from railsaas.db import TenantContext
    from railsaas.db import set_context as set_ctx

    user, tenant = factory.workspace()
    with db.scope(TenantContext(tenant_id=tenant.id, user_id=user.id)) as s:
        set_ctx(s, TenantContext(tenant_id=tenant.id, user_id=user.id))
        assert s.scalar(select(func.count()).select_from(RailwayWorkspace)) == 0


def test_tokens_are_encrypted_at_rest_and_rotate(app_ctx, dbconn, token_key):
    row = add_entry("pool-b", token="railway-token-secret-123")
    with db.scope(SYSTEM) as s:
        stored = bytes(s.get(RailwayWorkspace, row.id).token_ciphertext)
    assert b"railway-token-secret-123" not in stored
    assert pool.decrypt_token(stored) == "railway-token-secret-123"
    new_key = Fernet.generate_key().decode()
    app_ctx.config["RAILWAY_TOKEN_KEY"] = f"{new_key},{token_key}"  # new first, old still read
    with db.scope(SYSTEM) as s:
        assert pool.rotate_tokens(s) >= 1
    app_ctx.config["RAILWAY_TOKEN_KEY"] = new_key  # the old key gone
    with db.scope(SYSTEM) as s:
        assert pool.decrypt_token(s.get(RailwayWorkspace, row.id).token_ciphertext) == (
            "railway-token-secret-123"
        )


def test_a_stored_entry_without_the_key_cannot_be_reached(app_ctx, dbconn, token_key):
    from railsaas.railway import errors as rw

    row = add_entry("pool-b")
    app_ctx.config["RAILWAY_TOKEN_KEY"] = ""
    pool.reset_clients()
    with pytest.raises(rw.Unauthorized, match="RAILWAY_TOKEN_KEY"):
        pool.client_for(row.id)


# --- the admin page ---------------------------------------------------------------------------


@pytest.fixture
def admin_client(app, factory):
    user, _ = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(User, user.id).role = "admin"
    client = app.test_client()
    login_as(app, client, user)
    return client


def _post(client, path, **data):
    token = csrf_from(client.get("/admin/railway").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def test_admins_add_an_entry_whose_token_is_never_shown_again(app, admin_client, dbconn, token_key):
    secret = "rw-secret-token-0a1b2c3d4e5f"
    resp = _post(
        admin_client,
        "/admin/railway",
        name="pool-2",
        railway_workspace_id="ws-pool-2",
        token=secret,
        plan="pro",
        usage_limit="1200.50",
    )
    assert resp.status_code in (302, 303)
    page = admin_client.get("/admin/railway").get_data(as_text=True)
    assert 'data-testid="pool-pool-2"' in page
    assert 'data-testid="pool-primary"' in page
    assert secret not in page
    assert "$1,200.50" in page
    with db.scope(SYSTEM) as s:
        row = s.scalar(select(RailwayWorkspace).where(RailwayWorkspace.name == "pool-2"))
        assert secret.encode() not in bytes(row.token_ciphertext)
        assert (row.state, row.usage_limit_cents) == ("open", 120050)
        audit = s.scalar(
            select(AuditLog).where(
                AuditLog.action == "railway_workspace.added", AuditLog.target_id == str(row.id)
            )
        )
        assert audit is not None
        assert secret not in str(audit.details)


def test_a_bad_entry_names_each_problem_keeps_no_token_and_writes_nothing(
    app, admin_client, dbconn, token_key
):
    secret = "rw-secret-token-zzzz"
    with db.scope(SYSTEM) as s:
        before = s.scalar(select(func.count()).select_from(RailwayWorkspace))
    resp = _post(
        admin_client,
        "/admin/railway",
        name="Bad Name!",
        railway_workspace_id="",
        token=secret,
        plan="enterprise",
        usage_limit="lots",
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    for name in ("name", "railway_workspace_id", "plan", "usage_limit"):
        assert f'data-testid="error-{name}"' in html
    assert secret not in html  # not even echoed back into the form
    with db.scope(SYSTEM) as s:
        assert s.scalar(select(func.count()).select_from(RailwayWorkspace)) == before


def test_without_a_token_key_an_entry_is_refused(app, admin_client, dbconn, token_key):
    app.config["RAILWAY_TOKEN_KEY"] = ""  # token_key puts it back
    resp = _post(
        admin_client, "/admin/railway", name="pool-2", railway_workspace_id="ws-2", token="t0k"
    )
    assert resp.status_code == 422
    assert "RAILWAY_TOKEN_KEY" in resp.get_data(as_text=True)


def test_admins_drain_reopen_and_close_only_an_empty_one(
    app_ctx, admin_client, dbconn, factory, token_key
):
    b = add_entry("pool-b")
    load(factory, b, 1)
    resp = _post(admin_client, f"/admin/railway/{b.id}/state", state="closed")
    assert resp.status_code in (302, 303)  # open -> closed is not a transition
    _post(admin_client, f"/admin/railway/{b.id}/state", state="draining")
    _post(admin_client, f"/admin/railway/{b.id}/state", state="closed")  # live instance: no
    with db.scope(SYSTEM) as s:
        assert s.get(RailwayWorkspace, b.id).state == "draining"
        s.execute(
            update(Instance).where(Instance.railway_workspace_id == b.id).values(status="deleted")
        )
    _post(admin_client, f"/admin/railway/{b.id}/state", state="closed")
    with db.scope(SYSTEM) as s:
        assert s.get(RailwayWorkspace, b.id).state == "closed"
        actions = set(
            s.scalars(select(AuditLog.action).where(AuditLog.target_id == str(b.id))).all()
        )
    assert {"railway_workspace.draining", "railway_workspace.closed"} <= actions


def test_closing_with_live_instances_is_a_conflict(app_ctx, dbconn, factory, token_key):
    b = add_entry("pool-b", state="draining")
    load(factory, b, 1)
    with db.scope(SYSTEM) as s:
        admin = User(email="ops@example.com", name="Ops", password_hash="x", role="admin")
        with pytest.raises(Conflict, match="1 live instance"):
            fleet.set_state(s, admin, b.id, "closed")


def test_the_pool_page_is_for_platform_admins_only(app, client, dbconn, make_customer):
    make_customer(client)
    assert client.get("/admin/railway").status_code in (302, 403, 404)


def test_outside_development_a_stored_token_needs_its_key_to_start(app, committed_factory):
    from railsaas.config import InsecureConfiguration

    key = Fernet.generate_key().decode()
    with app.app_context(), db.scope(SYSTEM) as s:
        s.add(
            RailwayWorkspace(
                name="pool-startup",
                railway_workspace_id="ws-startup",
                token_source=pool.STORED,
                token_ciphertext=pool._cipher_from(key).encrypt(b"t0ken"),
            )
        )
    saved = app.config.get("RAILWAY_TOKEN_KEY")
    try:
        app.config["RAILWAY_TOKEN_KEY"] = ""
        with pytest.raises(InsecureConfiguration, match="RAILWAY_TOKEN_KEY is not set"):
            pool.check_token_key(app)
        app.config["RAILWAY_TOKEN_KEY"] = key
        pool.check_token_key(app)  # with its key: starts
        app.config.update(RAILWAY_TOKEN_KEY="", DEBUG=True)
        pool.check_token_key(app)  # development: starts, the admin page says what is missing
    finally:
        app.config.update(RAILWAY_TOKEN_KEY=saved, DEBUG=False)
