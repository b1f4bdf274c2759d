"""Database administration: roles, databases, migrations, row-level security.

Used by the Alembic environment, `make dev`, the test suite and `flask db` commands. Runs
with DATABASE_URL (a role that may create roles, or the owner itself); the web app and the
workers never do.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from railsaas.config import Config, sqlalchemy_url

ROOT = Path(__file__).resolve().parent.parent
RLS_POLICIES = ROOT / "sql" / "rls_policies.sql"


def admin_engine(url: str, **kwargs) -> Engine:
    # The same TLS parameters as the app's engines (config.Config.database_tls).
    kwargs["connect_args"] = {**Config().database_tls(url), **kwargs.get("connect_args", {})}
    return create_engine(sqlalchemy_url(url), poolclass=NullPool, **kwargs)


def _quote_ident(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _role_exists(conn: Connection, role: str) -> bool:
    return bool(conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}))


def _create_role(conn: Connection, role: str, definition: str) -> None:
    """CREATE ROLE unless it exists. Roles belong to the cluster, not the database: two
    migrations of different databases on one server (parallel test workers, two releases)
    can both see it missing, so the loser's duplicate is rolled back to a savepoint."""
    if _role_exists(conn, role):
        return
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(f"CREATE ROLE {_quote_ident(conn, role)} {definition}")
    except DBAPIError:
        if not _role_exists(conn, role):
            raise


def logins(cfg: Config) -> dict[str, tuple[str, str]]:
    """The three logins by kind of work: (role name, password). See docs/security.md."""
    return {
        "web": (cfg.APP_DB_USER, cfg.APP_DB_PASSWORD),
        "admin": (cfg.ADMIN_DB_USER, cfg.ADMIN_DB_PASSWORD),
        "system": (cfg.SYSTEM_DB_USER, cfg.SYSTEM_DB_PASSWORD),
    }


def ensure_roles(conn: Connection, cfg: Config) -> None:
    """Create the owner role (NOLOGIN: migrations SET ROLE to it) and the three logins (web,
    admin, system: LOGIN, NOSUPERUSER, NOBYPASSRLS, NOINHERIT, own nothing, members of no
    role) when missing, and grant what they need. A password is set at creation only:
    rotating one is `ALTER ROLE ... PASSWORD` (docs/security.md)."""
    owner = cfg.DB_OWNER_ROLE
    q_owner = _quote_ident(conn, owner)
    current = conn.scalar(text("SELECT current_user"))
    _create_role(conn, owner, "NOLOGIN")
    if current != owner:
        is_member = conn.scalar(
            text("SELECT pg_has_role(current_user, :r, 'MEMBER')"), {"r": owner}
        )
        if not is_member:
            conn.exec_driver_sql(f"GRANT {q_owner} TO CURRENT_USER")
    database = _quote_ident(conn, conn.scalar(text("SELECT current_database()")))
    is_super = conn.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
    if is_super or current == owner:
        conn.exec_driver_sql(f"GRANT USAGE, CREATE ON SCHEMA public TO {q_owner}")
    for name, password in logins(cfg).values():
        q_login = _quote_ident(conn, name)
        _create_role(
            conn,
            name,
            f"LOGIN PASSWORD {_quote_literal(password)} "
            "NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT",
        )
        conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {database} TO {q_login}")
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {q_login}")


def become_owner(conn: Connection, cfg: Config) -> None:
    conn.exec_driver_sql(f"SET ROLE {_quote_ident(conn, cfg.DB_OWNER_ROLE)}")


# --- used from migrations (op.get_bind() is the owner's connection) -------------------------


def apply_rls(conn: Connection, cfg: Config | None = None) -> None:
    """(Re)apply sql/rls_policies.sql. Every policy in it is dropped and recreated.

    The file names the three logins through session settings (railsaas.web_role, ...), so
    their names stay configurable."""
    cfg = cfg or Config()
    for kind, (name, _) in logins(cfg).items():
        conn.execute(
            text("SELECT set_config(:k, :v, false)"), {"k": f"railsaas.{kind}_role", "v": name}
        )
    # Straight to psycopg: with no parameters it sends the file as one simple query, and the
    # format() placeholders inside it are not mistaken for driver parameters.
    conn.connection.driver_connection.execute(RLS_POLICIES.read_text())


def drop_policies(conn: Connection) -> None:
    """Drop every policy in the schema (policies on one table may read another, which would
    otherwise block dropping it)."""
    rows = conn.execute(
        text("SELECT policyname, tablename FROM pg_policies WHERE schemaname = 'public'")
    ).all()
    for policy, table in rows:
        conn.exec_driver_sql(
            f"DROP POLICY {_quote_ident(conn, policy)} ON {_quote_ident(conn, table)}"
        )


# Columns of users that only the admin and system logins write: a customer-facing login
# updating them (an injected `UPDATE users SET role = 'admin'` on one's own row, which the
# user_self policy admits) is refused by the grants. Verifying an email and bumping one's
# session version go through SECURITY DEFINER functions (sql/rls_policies.sql).
USER_PRIVILEGED_COLUMNS = ("role", "is_suspended", "email_verified", "session_version")
_CLAIM_TRIAL = "billing_claim_trial(text, uuid, text, text)"
# Placing a workspace on a Railway workspace at its first deploy (railsaas.railway.pool).
_PLACE = "railway_place_workspace(uuid, boolean)"
# Functions each login may call, when they exist (older migrations run before later ones
# create theirs).
_FUNCTIONS = {
    "web": (
        "auth_find_user(text)",
        "auth_find_api_token(text)",
        "auth_mark_email_verified()",
        "auth_bump_session_version()",
        "status_page_workspace(text)",
        _CLAIM_TRIAL,
        _PLACE,
    ),
    "admin": (
        "auth_find_user(text)",
        "auth_find_api_token(text)",
        "auth_bump_session_version()",
        _CLAIM_TRIAL,
        _PLACE,
    ),
    "system": (_CLAIM_TRIAL, _PLACE),
}


def grant_roles(conn: Connection, cfg: Config | None = None) -> None:
    """What each login may do, in grants (the policies then choose rows):

    - all three read and write the tables, append to the audit log only, and never touch
      Alembic's bookkeeping;
    - the web login writes users' columns except USER_PRIVILEGED_COLUMNS."""
    cfg = cfg or Config()
    q = {kind: _quote_ident(conn, name) for kind, (name, _) in logins(cfg).items()}
    for kind, login in q.items():
        conn.exec_driver_sql(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {login}"
        )
        conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {login}")
        conn.exec_driver_sql(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {login}")
        conn.exec_driver_sql(f"REVOKE ALL ON alembic_version FROM {login}")
        for fn in _FUNCTIONS[kind]:
            if conn.scalar(text("SELECT to_regprocedure(:f)"), {"f": fn}) is not None:
                conn.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION {fn} TO {login}")
    web = q["web"]
    columns = conn.scalars(
        text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'users' ORDER BY ordinal_position"
        )
    ).all()
    writable = ", ".join(_quote_ident(conn, c) for c in columns if c not in USER_PRIVILEGED_COLUMNS)
    # Column privileges only narrow what a table privilege does not already give.
    conn.exec_driver_sql(f"REVOKE INSERT, UPDATE ON users FROM {web}")
    conn.exec_driver_sql(f"GRANT INSERT ({writable}), UPDATE ({writable}) ON users TO {web}")


# --- databases (make dev, tests) -------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def create_database(admin_url: str, name: str, *, drop_first: bool = False) -> None:
    """Create database `name` on the server of admin_url (which names any existing database)."""
    engine = admin_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        q = _quote_ident(conn, name)
        if drop_first:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {q} WITH (FORCE)")
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.exec_driver_sql(f"CREATE DATABASE {q}")
    engine.dispose()


def alembic_config(database_url: str):
    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def migrate(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
