"""Row-level security holds on its own: as each database login, with no application filter.

Two workspaces A and B, a row of every tenant table in each. As the web login in B, A's rows
cannot be read, changed or deleted (0 rows, no error), nothing can be written into A, and
with no tenant set nothing is visible; no setting (app.role) widens that. The admin login sees
every workspace but not the system-only tables; only the system login sees everything. No
login can SET ROLE to another, and none changes users.role on its own row. A catalog check
makes sure a future tenant table cannot slip through.

The matrix runs on the test's connection, which acts as each login by SET ROLE (the
connection's own role may; see `dbconn`); what needs the real logins (SET ROLE between them,
who the app connects as) uses the app's engines.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, ProgrammingError

from railsaas import dbadmin
from railsaas.config import Config
from railsaas.models import Base

NOW = datetime.now(UTC)


LOGINS = {kind: name for kind, (name, _) in dbadmin.logins(Config()).items()}
KIND = {"": "web", "platform_admin": "admin", "system": "system"}


def _ctx(conn, tenant_id=None, user_id=None, role=""):
    """Act as the login of `role` (a TenantContext role) with these settings."""
    conn.exec_driver_sql(f'SET ROLE "{LOGINS[KIND[role]]}"')
    conn.execute(
        sa.text(
            "SELECT set_config('app.tenant_id', :t, true), set_config('app.user_id', :u, true)"
        ),
        {"t": str(tenant_id or ""), "u": str(user_id or "")},
    )


class World:
    """Rows for tenants A and B, created as the system role on the app-role connection."""

    def __init__(self, conn):
        self.conn = conn
        self.tenant = {}
        self.user = {}
        self.rows: dict[str, dict[str, uuid.UUID | int]] = {}
        _ctx(conn, role="system")
        self.template_id = self._insert(
            "templates",
            {
                "railway_template_id": f"t-{uuid.uuid4()}",
                "name": "T",
                "category": "cms",
                "price_tier": "starter",
                "resources": {},
            },
        )
        for key in ("A", "B"):
            tid = self._insert("tenants", {"name": key, "slug": f"{key}-{uuid.uuid4().hex}"})
            uid = self._insert(
                "users",
                {
                    "email": f"{key.lower()}-{uuid.uuid4().hex}@x.io",
                    "password_hash": "x",
                    "name": key,
                },
            )
            self.tenant[key], self.user[key] = tid, uid

    def _insert(self, table: str, values: dict):
        t = Base.metadata.tables[table]
        pk = next(iter(t.primary_key.columns))
        return self.conn.execute(sa.insert(t).values(**values).returning(pk)).scalar_one()

    def row_values(self, table: str, key: str) -> dict:
        """Values for one row of `table` belonging to workspace `key`."""
        tid, uid = self.tenant[key], self.user[key]
        return BUILDERS[table](self, tid, uid)

    def make(self, table: str, key: str):
        _ctx(self.conn, role="system")
        return self._insert(table, self.row_values(table, key))

    def instance(self, key: str) -> uuid.UUID:
        return self._insert(
            "instances", BUILDERS["instances"](self, self.tenant[key], self.user[key])
        )


def _instance(w: World, tid, uid):
    return {
        "tenant_id": tid,
        "user_id": uid,
        "template_id": w.template_id,
        "name": f"i-{uuid.uuid4().hex[:8]}",
        "status": "running",
    }


BUILDERS: dict[str, Callable[[World, uuid.UUID, uuid.UUID], dict]] = {
    "memberships": lambda w, tid, uid: {"tenant_id": tid, "user_id": uid, "role": "owner"},
    "invitations": lambda w, tid, uid: {
        "tenant_id": tid,
        "email": f"{uuid.uuid4().hex}@x.io",
        "role": "member",
        "token_hash": uuid.uuid4().hex,
        "expires_at": NOW + timedelta(days=1),
    },
    "api_tokens": lambda w, tid, uid: {
        "tenant_id": tid,
        "user_id": uid,
        "name": "t",
        "prefix": "rs_x",
        "token_hash": uuid.uuid4().hex,
        "scopes": ["read"],
    },
    "subscriptions": lambda w, tid, uid: {
        "tenant_id": tid,
        "user_id": uid,
        "plan_name": "Pro",
        "status": "active",
        "stripe_subscription_id": f"sub_{uuid.uuid4().hex}",
    },
    "instances": _instance,
    "deployments": lambda w, tid, uid: {
        "tenant_id": tid,
        "instance_id": w.instance_for(tid, uid),
        "status": "SUCCESS",
    },
    "usage_metrics": lambda w, tid, uid: {
        "tenant_id": tid,
        "instance_id": w.instance_for(tid, uid),
        "metric_type": "CPU_USAGE",
        "value": 1,
        "unit": "vCPU-min",
        "recorded_at": NOW - timedelta(minutes=uuid.uuid4().int % 10**6),
    },
    "usage_rollups": lambda w, tid, uid: {
        "tenant_id": tid,
        "day": NOW.date(),
        "instance_id": w.instance_for(tid, uid),
        "cpu_vcpu_minutes": 60,
        "memory_gb_minutes": 0,
        "disk_gb_minutes": 0,
        "backup_gb_minutes": 0,
        "egress_gb": 0,
        "cost_cents": 2.7,
    },
    "usage_meter_reports": lambda w, tid, uid: {
        "tenant_id": tid,
        "period_start": NOW.date(),
        "identifier": uuid.uuid4().hex,
        "value_cents": 100,
        "stripe_customer_id": "cus_x",
    },
    "uptime_monitors": lambda w, tid, uid: {
        "tenant_id": tid,
        "instance_id": w.instance_for(tid, uid),
        "next_check_at": NOW,
    },
    "uptime_checks": lambda w, tid, uid: {
        "tenant_id": tid,
        "instance_id": w.instance_for(tid, uid),
        "checked_at": NOW,
        "up": True,
        "status_code": 200,
        "latency_ms": 80,
    },
    "uptime_hourly": lambda w, tid, uid: {
        "tenant_id": tid,
        "instance_id": w.instance_for(tid, uid),
        "hour": NOW - timedelta(hours=uuid.uuid4().int % 10**6),
        "checks": 60,
        "up_checks": 60,
        "latency_ms_sum": 6000,
        "latency_count": 60,
    },
    "notifications": lambda w, tid, uid: {
        "tenant_id": tid,
        "user_id": uid,
        "kind": "deploy",
        "title": "hi",
    },
    "audit_log": lambda w, tid, uid: {
        "tenant_id": tid,
        "actor_user_id": uid,
        "actor_type": "user",
        "action": "x.y",
    },
    "outbox": lambda w, tid, uid: {"tenant_id": tid, "task": "noop", "args": {}},
    "emails": lambda w, tid, uid: {
        "tenant_id": tid,
        "user_id": uid,
        "to_address": "a@x.io",
        "subject": "s",
        "kind": "k",
        "text_body": "b",
    },
    "job_failures": lambda w, tid, uid: {
        "tenant_id": tid,
        "task_name": "noop",
        "exception_type": "RuntimeError",
    },
}


def _instance_for(self: World, tid, uid):
    return self._insert("instances", _instance(self, tid, uid))


World.instance_for = _instance_for

# Tables whose rows the app role may append but never change (grants, not policies).
APPEND_ONLY = {"audit_log"}
# Tables that name a workspace but belong to the operators: no workspace reads or writes them,
# not even its own rows (platform admins and system jobs only).
PRIVILEGED_ONLY = {"job_failures"}


def tenant_tables(owner_sql) -> list[str]:
    rows = owner_sql(
        "SELECT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' "
        "AND t.table_type = 'BASE TABLE' ORDER BY 1"
    )
    return [r[0] for r in rows]


@pytest.fixture
def conn(app, dbconn):
    """The app-role connection, inside the test's outer transaction."""
    return dbconn


def test_every_tenant_table_forces_rls_and_has_a_policy(owner_sql):
    tables = tenant_tables(owner_sql)
    assert tables, "no tenant tables found"
    flags = {
        r[0]: (r[1], r[2])
        for r in owner_sql(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
        )
    }
    policies = {
        r[0]
        for r in owner_sql("SELECT DISTINCT tablename FROM pg_policies WHERE schemaname = 'public'")
    }
    for table in tables:
        assert flags[table] == (True, True), f"{table}: RLS not ENABLEd and FORCEd"
        assert table in policies, f"{table}: no policy"
        assert table in BUILDERS, f"{table}: add it to the isolation suite's BUILDERS"


def test_every_table_has_rls_even_without_tenant_id(owner_sql):
    """Users, tenants, catalogs and Stripe events are guarded too (own policies)."""
    rows = owner_sql(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relkind = 'r' AND relname <> 'alembic_version' "
        "AND NOT (relrowsecurity AND relforcerowsecurity)"
    )
    assert rows == []


def test_tenant_indexes_start_with_tenant_id(owner_sql):
    for table in tenant_tables(owner_sql):
        first_columns = {
            r[0]
            for r in owner_sql(
                "SELECT a.attname FROM pg_index i "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
                "WHERE i.indrelid = CAST(:t AS regclass)",
                t=table,
            )
        }
        assert "tenant_id" in first_columns, f"{table}: no index starting with tenant_id"


@pytest.mark.parametrize("kind", sorted(LOGINS))
def test_no_login_is_superuser_bypasses_inherits_or_owns_anything(owner_sql, kind):
    role = LOGINS[kind]
    ((superuser, bypass, inherit, login),) = owner_sql(
        "SELECT rolsuper, rolbypassrls, rolinherit, rolcanlogin FROM pg_roles WHERE rolname = :r",
        r=role,
    )
    assert (superuser, bypass, inherit, login) == (False, False, False, True)
    owned = owner_sql(
        "SELECT relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = :r",
        r=role,
    )
    assert owned == []
    member_of = owner_sql(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :r",
        r=role,
    )
    assert member_of == []


@pytest.mark.parametrize("kind", sorted(LOGINS))
def test_the_app_connects_as_each_login_and_none_can_set_role_to_another(app, kind):
    from railsaas.extensions import db

    with db.engines[kind].connect() as c:
        assert c.execute(sa.text("SELECT session_user")).scalar() == LOGINS[kind]
        for other in sorted((set(LOGINS.values()) | {Config().DB_OWNER_ROLE}) - {LOGINS[kind]}):
            with pytest.raises(ProgrammingError, match="permission denied"), c.begin_nested():
                c.exec_driver_sql(f'SET ROLE "{other}"')


@pytest.mark.parametrize("table", sorted(BUILDERS))
def test_workspace_b_cannot_read_change_or_delete_workspace_a_rows(conn, table):
    w = World(conn)
    a_id = w.make(table, "A")
    w.make(table, "B")
    t = Base.metadata.tables[table]
    pk = next(iter(t.primary_key.columns))

    _ctx(conn, tenant_id=w.tenant["B"], user_id=w.user["B"])
    visible = conn.execute(sa.select(t.c.tenant_id)).scalars().all()
    if table in PRIVILEGED_ONLY:
        assert visible == [], "no workspace sees operators' rows, not even its own"
        assert conn.execute(sa.delete(t).where(pk == a_id)).rowcount == 0
        return
    assert visible, "B should see its own row"
    assert set(visible) == {w.tenant["B"]}
    assert conn.execute(sa.select(pk).where(pk == a_id)).all() == []

    if table in APPEND_ONLY:
        for stmt in (
            sa.update(t).where(pk == a_id).values(action="tampered"),
            sa.delete(t).where(pk == a_id),
        ):
            with pytest.raises(ProgrammingError, match="permission denied"), conn.begin_nested():
                conn.execute(stmt)
        return
    column = "status" if "status" in t.c else "tenant_id"
    value = "tampered" if column == "status" else w.tenant["B"]
    assert conn.execute(sa.update(t).where(pk == a_id).values({column: value})).rowcount == 0
    assert conn.execute(sa.delete(t).where(pk == a_id)).rowcount == 0

    _ctx(conn, role="system")
    assert conn.execute(sa.select(pk).where(pk == a_id)).scalar_one() == a_id


@pytest.mark.parametrize("table", sorted(BUILDERS))
def test_the_web_login_cannot_widen_its_view_with_any_setting(conn, table):
    """Before, the policies read app.role, which the app role could set itself: one SQL
    injection setting app.role = 'system' saw every workspace."""
    w = World(conn)
    w.make(table, "A")
    w.make(table, "B")
    t = Base.metadata.tables[table]
    _ctx(conn, tenant_id=w.tenant["B"], user_id=w.user["B"])
    for role in ("system", "platform_admin"):
        conn.execute(sa.text("SELECT set_config('app.role', :r, true)"), {"r": role})
        seen = set(conn.execute(sa.select(t.c.tenant_id)).scalars())
        assert w.tenant["A"] not in seen, f"app.role={role} showed another workspace"


@pytest.mark.parametrize("table", sorted(BUILDERS))
def test_the_admin_login_sees_every_workspace(conn, table):
    w = World(conn)
    w.make(table, "A")
    w.make(table, "B")
    t = Base.metadata.tables[table]
    _ctx(conn, user_id=w.user["A"], role="platform_admin")
    seen = set(conn.execute(sa.select(t.c.tenant_id)).scalars())
    assert {w.tenant["A"], w.tenant["B"]} <= seen


SYSTEM_ONLY = {"stripe_events", "usage_rollup_marks"}


def _system_only_row(conn, table: str) -> dict:
    if table == "stripe_events":
        return {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "invoice.paid",
            "created": NOW,
            "payload": {},
        }
    return {"name": f"mark-{uuid.uuid4().hex}"}


@pytest.mark.parametrize("table", sorted(SYSTEM_ONLY))
def test_only_the_system_login_reads_or_writes_system_only_tables(conn, table):
    t = Base.metadata.tables[table]
    _ctx(conn, role="system")
    conn.execute(sa.insert(t).values(**_system_only_row(conn, table)))
    assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() >= 1
    for role in ("", "platform_admin"):
        _ctx(conn, role=role)
        assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() == 0
        with pytest.raises(DBAPIError, match="row-level security"), conn.begin_nested():
            conn.execute(sa.insert(t).values(**_system_only_row(conn, table)))


@pytest.mark.parametrize("role", ["", "platform_admin"])
def test_the_audit_log_is_append_only_for_every_login(conn, role):
    w = World(conn)
    row = w.make("audit_log", "A")
    t = Base.metadata.tables["audit_log"]
    _ctx(conn, tenant_id=w.tenant["A"], user_id=w.user["A"], role=role)
    for stmt in (
        sa.update(t).where(t.c.id == row).values(action="tampered"),
        sa.delete(t).where(t.c.id == row),
    ):
        with pytest.raises(ProgrammingError, match="permission denied"), conn.begin_nested():
            conn.execute(stmt)


@pytest.mark.parametrize("role", ["", "platform_admin", "system"])
@pytest.mark.parametrize(
    ("column", "value"),
    [("role", "admin"), ("is_suspended", False), ("email_verified", True), ("session_version", 1)],
)
def test_no_login_changes_privileged_columns_of_its_own_user_row(conn, role, column, value):
    """`UPDATE users SET role = 'admin'` on one's own row used to pass the user_self policy.
    The web login lacks the column grants; the admin and system logins may change other
    users' rows but never the one they act for (a restrictive policy)."""
    w = World(conn)
    users = Base.metadata.tables["users"]
    me = w.user["A"]
    _ctx(conn, tenant_id=w.tenant["A"], user_id=me, role=role)
    stmt = sa.update(users).where(users.c.id == me).values({column: value})
    if role == "":
        with pytest.raises(ProgrammingError, match="permission denied"), conn.begin_nested():
            conn.execute(stmt)
    else:
        assert conn.execute(stmt).rowcount == 0
    _ctx(conn, role="system")
    assert conn.execute(sa.select(users.c.role).where(users.c.id == me)).scalar() == "user"


def test_the_web_login_cannot_insert_itself_as_an_admin(conn):
    users = Base.metadata.tables["users"]
    me = uuid.uuid4()
    _ctx(conn, user_id=me)
    with pytest.raises(ProgrammingError, match="permission denied"), conn.begin_nested():
        conn.execute(
            sa.insert(users).values(
                id=me, email=f"{me.hex}@x.io", password_hash="x", name="m", role="admin"
            )
        )
    conn.execute(
        sa.insert(users).values(id=me, email=f"{me.hex}@x.io", password_hash="x", name="m")
    )
    assert conn.execute(sa.select(users.c.role).where(users.c.id == me)).scalar() == "user"


def test_the_definer_functions_change_only_the_signed_in_users_row(conn):
    w = World(conn)
    users = Base.metadata.tables["users"]
    _ctx(conn, user_id=w.user["B"])
    assert conn.execute(sa.text("SELECT auth_mark_email_verified()")).scalar() is True
    assert conn.execute(sa.text("SELECT auth_bump_session_version()")).scalar() == 2
    _ctx(conn)  # nobody signed in: nothing to change
    assert conn.execute(sa.text("SELECT auth_mark_email_verified()")).scalar() is None
    assert conn.execute(sa.text("SELECT auth_bump_session_version()")).scalar() is None
    _ctx(conn, role="system")
    rows = dict(
        conn.execute(
            sa.select(users.c.id, users.c.email_verified).where(
                users.c.id.in_([w.user["A"], w.user["B"]])
            )
        ).all()
    )
    assert rows == {w.user["A"]: False, w.user["B"]: True}


@pytest.mark.parametrize("table", sorted(BUILDERS))
def test_workspace_b_cannot_write_rows_into_workspace_a(conn, table):
    w = World(conn)
    values = w.row_values(table, "A")  # FK rows (instances) are made as system here
    b_id = w.make(table, "B")
    t = Base.metadata.tables[table]
    pk = next(iter(t.primary_key.columns))

    _ctx(conn, tenant_id=w.tenant["B"], user_id=w.user["B"])
    with pytest.raises(DBAPIError, match="row-level security"), conn.begin_nested():
        conn.execute(sa.insert(t).values(**values))
    if table in PRIVILEGED_ONLY:  # B cannot even see its row to move it
        assert (
            conn.execute(sa.update(t).where(pk == b_id).values(tenant_id=w.tenant["A"])).rowcount
            == 0
        )
    elif table not in APPEND_ONLY:
        with pytest.raises(DBAPIError, match="row-level security"), conn.begin_nested():
            conn.execute(sa.update(t).where(pk == b_id).values(tenant_id=w.tenant["A"]))


@pytest.mark.parametrize("table", sorted(BUILDERS))
def test_no_tenant_set_means_no_rows(conn, table):
    w = World(conn)
    w.make(table, "A")
    _ctx(conn)  # nothing set: '' everywhere
    t = Base.metadata.tables[table]
    assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() == 0
    # Settings never set in this session at all (current_setting(..., true) is NULL): same.
    conn.execute(sa.text("RESET app.tenant_id"))
    assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() == 0


def test_users_see_themselves_and_their_workspace_members_only(conn):
    w = World(conn)
    for key in ("A", "B"):
        _ctx(conn, role="system")
        w._insert(
            "memberships", {"tenant_id": w.tenant[key], "user_id": w.user[key], "role": "owner"}
        )
    users = Base.metadata.tables["users"]
    tenants = Base.metadata.tables["tenants"]
    _ctx(conn, tenant_id=w.tenant["B"], user_id=w.user["B"])
    assert set(conn.execute(sa.select(users.c.id)).scalars()) == {w.user["B"]}
    assert set(conn.execute(sa.select(tenants.c.id)).scalars()) == {w.tenant["B"]}
    assert (
        conn.execute(sa.update(users).where(users.c.id == w.user["A"]).values(name="x")).rowcount
        == 0
    )
    _ctx(conn)
    assert conn.execute(sa.select(users.c.id)).all() == []
    assert conn.execute(sa.select(tenants.c.id)).all() == []


def test_login_lookup_finds_a_user_without_any_context(conn):
    w = World(conn)
    email = conn.execute(
        sa.text("SELECT email FROM users WHERE id = :id"), {"id": w.user["A"]}
    ).scalar()
    _ctx(conn)
    row = conn.execute(sa.text("SELECT id FROM auth_find_user(:e)"), {"e": email.upper()}).one()
    assert row.id == w.user["A"]


def test_the_next_transaction_on_a_pooled_connection_sees_no_tenant(app, committed):
    """set_config(..., true) ends with the transaction; the pool hands the same backend on."""
    from railsaas.db import TenantContext
    from railsaas.extensions import db

    engine = sa.create_engine(db.engine.url, pool_size=1, max_overflow=0)
    tenant = uuid.uuid4()
    with engine.connect() as c, c.begin():
        _ctx(c, tenant_id=tenant)
        pid = c.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        assert c.execute(sa.text("SELECT current_setting('app.tenant_id', true)")).scalar() == str(
            tenant
        )
    with engine.connect() as c, c.begin():
        assert c.execute(sa.text("SELECT pg_backend_pid()")).scalar() == pid
        assert c.execute(sa.text("SELECT current_setting('app.tenant_id', true)")).scalar() in (
            "",
            None,
        )
    # And a session started through the app's own factory always sets every setting.
    db.sessionmaker.configure(bind=engine)
    try:
        with db.scope(TenantContext()) as s:
            assert (
                s.execute(sa.text("SELECT current_setting('app.tenant_id', true)")).scalar() == ""
            )
            assert s.execute(sa.text("SELECT current_setting('app.user_id', true)")).scalar() == ""
    finally:
        db.sessionmaker.configure(bind=None)
        engine.dispose()
