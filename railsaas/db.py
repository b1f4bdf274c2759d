"""Engines, sessions and the tenant context that row-level security reads.

Three database logins, one per kind of work (docs/security.md), each with its own policies in
sql/rls_policies.sql and its own engine here:

    web     customer-facing requests            TenantContext(role="")
    admin   /admin and the admin API, admins    TenantContext(role="platform_admin")
    system  Celery worker and beat              TenantContext(role="system") = SYSTEM

`TenantContext.role` chooses the login (the engine a session's next transaction uses); it is
not sent to the database, so no statement can widen what a login sees. Every transaction
starts by setting two transaction-local settings the policies read:

    app.tenant_id  the selected workspace, or ''
    app.user_id    the signed-in user, or ''

They are always set, to '' when there is none, so a pooled connection never carries a
previous request's tenant (set_config(..., true) also ends with the transaction). With
nothing set, a tenant table shows the web login no rows.

A session changes login only between transactions: set_context ends a transaction that has
only read (a request that read its user, then turns out to be an admin on /admin) and refuses
one that has written, so one unit of work never spans two logins. `role = 'platform_admin'`
is only chosen on admin routes, never merely because the signed-in user is an admin:
elsewhere an admin sees their own workspaces like anyone else.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import psycopg
from flask import g
from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql.elements import TextClause

from railsaas.config import Config, sqlalchemy_url

# TenantContext.role -> the login whose engine runs the transaction.
KINDS = {"": "web", "platform_admin": "admin", "system": "system"}
ROLES = tuple(KINDS)


@dataclass(frozen=True)
class TenantContext:
    tenant_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    role: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown context role {self.role!r}")

    def with_tenant(self, tenant_id: uuid.UUID | None) -> TenantContext:
        return replace(self, tenant_id=tenant_id)


SYSTEM = TenantContext(role="system")
ANONYMOUS = TenantContext()

_CTX_KEY = "tenant_context"
_WROTE_KEY = "wrote_in_transaction"
# Tests only (Database.bind_connection): one connection, logged in as a role that may SET ROLE
# to each login, switches login per transaction instead of per engine.
_SET_ROLE_KEY = "set_role_logins"
_PIPELINE_SUPPORTED = psycopg.Pipeline.is_supported()  # libpq 14 or later
_SET_CONTEXT = text(
    "SELECT set_config('app.tenant_id', :tenant_id, true),"
    " set_config('app.user_id', :user_id, true)"
)


class LoginChangeAfterWrite(RuntimeError):
    """A unit of work that has written asked for another database login."""


def login_kind(ctx: TenantContext) -> str:
    return KINDS[ctx.role]


def _params(ctx: TenantContext) -> dict[str, str]:
    return {
        "tenant_id": str(ctx.tenant_id) if ctx.tenant_id else "",
        "user_id": str(ctx.user_id) if ctx.user_id else "",
    }


def get_context(session: Session) -> TenantContext:
    return session.info.get(_CTX_KEY, ANONYMOUS)


def set_context(session: Session, ctx: TenantContext) -> None:
    """Select the tenant context for this session: applied now if a transaction is open, and
    at the start of every later transaction. A different login (ctx.role) takes effect from
    the next transaction: an open one that has only read is committed first (nothing to
    commit but its end); one that has written raises LoginChangeAfterWrite."""
    current = get_context(session)
    if session.in_transaction() and current == ctx:
        return  # already in force: applied when the transaction began, or since
    if session.in_transaction() and login_kind(current) != login_kind(ctx):
        if session.info.get(_WROTE_KEY) or session.new or session.dirty or session.deleted:
            raise LoginChangeAfterWrite(
                f"this transaction has written as the {login_kind(current)} login; "
                f"commit it before acting as the {login_kind(ctx)} login"
            )
        session.commit()
        session.info[_CTX_KEY] = ctx
        return
    session.info[_CTX_KEY] = ctx
    if session.in_transaction():
        session.execute(_SET_CONTEXT, _params(ctx))


@event.listens_for(Session, "after_begin")
def _apply_context(session: Session, transaction, connection) -> None:
    # Runs once per transaction on the connection the session just checked out. psycopg
    # sends the transaction's BEGIN with its first statement; in pipeline mode the two (and
    # the tests' SET LOCAL ROLE) go in one round trip instead of two. Nothing here reads a
    # result, which a pipeline would only deliver at its end.
    session.info[_WROTE_KEY] = False
    ctx = get_context(session)
    logins = session.info.get(_SET_ROLE_KEY)
    with _pipeline(connection):
        if logins:
            connection.exec_driver_sql(f"SET LOCAL ROLE {logins[login_kind(ctx)]}")
        connection.execute(_SET_CONTEXT, _params(ctx))


def _pipeline(connection: Connection) -> contextlib.AbstractContextManager:
    raw = connection.connection.driver_connection
    if isinstance(raw, psycopg.Connection) and _PIPELINE_SUPPORTED:
        return raw.pipeline()
    return contextlib.nullcontext()


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, flush_context) -> None:
    session.info[_WROTE_KEY] = True


@event.listens_for(Session, "do_orm_execute")
def _note_write(state: ORMExecuteState) -> None:
    if state.is_select:
        return
    statement = state.statement
    if isinstance(statement, TextClause) and statement.text.lstrip()[:6].upper() == "SELECT":
        return
    state.session.info[_WROTE_KEY] = True


class RoutingSession(Session):
    """A session whose transactions run on the engine of its context's login."""

    def __init__(self, *args, engines: dict[str, Engine] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._engines = engines if engines is not None else {}

    def get_bind(self, mapper=None, clause=None, **kwargs):
        if self.bind is not None or not self._engines:
            return super().get_bind(mapper, clause=clause, **kwargs)
        return self._engines[login_kind(get_context(self))]


def make_engine(url: str, pool_size: int = 10, **kwargs) -> Engine:
    # TLS (DATABASE_SSLMODE / DATABASE_SSLROOTCERT, `require` by default outside development).
    kwargs["connect_args"] = {**Config().database_tls(url), **kwargs.get("connect_args", {})}
    return create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,  # a dropped connection is replaced, not handed to a request
        pool_recycle=1800,
        hide_parameters=True,  # bound values (emails, links, hashes) never reach logs or errors
        **kwargs,
    )


class Database:
    """The process's engines (one per login) and session factory (a Flask extension, also
    used by Celery).

    In a request, `db.session` is one session for the request, closed at teardown; views
    commit once. Elsewhere, `db.scope(ctx)` is one unit of work (`db.scope(SYSTEM)`: the
    system login). Engines open connections lazily: a web process that never acts as the
    system login holds no system connection.
    """

    def __init__(self) -> None:
        self.engines: dict[str, Engine] = {}
        self.sessionmaker = sessionmaker(
            class_=RoutingSession, expire_on_commit=False, engines=self.engines
        )

    @property
    def engine(self) -> Engine | None:
        """The web login's engine (health checks; the default for tools)."""
        return self.engines.get("web")

    def engine_for(self, ctx: TenantContext) -> Engine:
        return self.engines[login_kind(ctx)]

    def configure(self, urls: dict[str, str] | str, pool_size: int = 10) -> None:
        """urls: the URL of each login by kind (web, admin, system). One URL (tools, old
        callers) serves every kind: its login's own policies then decide what it sees."""
        if isinstance(urls, str):
            urls = dict.fromkeys(KINDS.values(), urls)
        for engine in self.engines.values():
            engine.dispose()
        self.engines.clear()  # the same dict the sessionmaker hands its sessions
        for kind, url in urls.items():
            if not url:
                raise RuntimeError(
                    f"no database URL for the {kind} login: set DATABASE_URL, "
                    "or its own *_DATABASE_URL (docs/security.md)"
                )
            self.engines[kind] = make_engine(url, pool_size=pool_size)
        self.sessionmaker.configure(bind=None)

    def bind_connection(self, conn: Connection, logins: dict[str, str], **kwargs) -> None:
        """Tests: every session on `conn` (inside the test's outer transaction), switching
        login by SET LOCAL ROLE at the start of each transaction. `logins`: kind -> quoted
        role name; conn's own role must be allowed to SET ROLE to each."""
        self.sessionmaker.configure(bind=conn, info={_SET_ROLE_KEY: logins}, **kwargs)

    def unbind_connection(self, **kwargs) -> None:
        self.sessionmaker.configure(bind=None, info={}, **kwargs)

    def init_app(self, app) -> None:
        if not self.engines or app.config["DB_RECONFIGURE"]:
            self.configure(app.config["database_urls"], app.config["DB_POOL_SIZE"])
        app.teardown_appcontext(self._close_request_session)
        app.extensions["railsaas_db"] = self

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = self.sessionmaker()
        return g.db_session

    @staticmethod
    def _close_request_session(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    @contextlib.contextmanager
    def scope(self, ctx: TenantContext) -> Iterator[Session]:
        """One unit of work outside a request (tasks, CLI): commit on success, else roll back."""
        session = self.sessionmaker()
        set_context(session, ctx)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


db = Database()
