"""Engine, sessions and the tenant context that row-level security reads.

Every transaction starts by setting three transaction-local settings:

    app.tenant_id  the selected workspace, or ''
    app.user_id    the signed-in user, or ''
    app.role       '' | 'platform_admin' | 'system'

They are always set, to '' when there is none, so a pooled connection never carries a
previous request's tenant (set_config(..., true) also ends with the transaction).
Policies in sql/rls_policies.sql read them; with nothing set a tenant table shows no rows.

`app.role = 'platform_admin'` is only set on admin routes, never merely because the signed-in
user is an admin: elsewhere an admin sees their own workspaces like anyone else.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

from flask import g
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from railsaas.config import Config, sqlalchemy_url

ROLES = ("", "platform_admin", "system")


@dataclass(frozen=True)
class TenantContext:
    tenant_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    role: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown app.role {self.role!r}")

    def with_tenant(self, tenant_id: uuid.UUID | None) -> TenantContext:
        return replace(self, tenant_id=tenant_id)


SYSTEM = TenantContext(role="system")
ANONYMOUS = TenantContext()

_CTX_KEY = "tenant_context"
_SET_CONTEXT = text(
    "SELECT set_config('app.tenant_id', :tenant_id, true),"
    " set_config('app.user_id', :user_id, true),"
    " set_config('app.role', :role, true)"
)


def _params(ctx: TenantContext) -> dict[str, str]:
    return {
        "tenant_id": str(ctx.tenant_id) if ctx.tenant_id else "",
        "user_id": str(ctx.user_id) if ctx.user_id else "",
        "role": ctx.role,
    }


def get_context(session: Session) -> TenantContext:
    return session.info.get(_CTX_KEY, ANONYMOUS)


def set_context(session: Session, ctx: TenantContext) -> None:
    """Select the tenant context for this session: applied now if a transaction is open, and
    at the start of every later transaction."""
    if session.in_transaction() and get_context(session) == ctx:
        return  # already in force: applied when the transaction began, or since
    session.info[_CTX_KEY] = ctx
    if session.in_transaction():
        session.execute(_SET_CONTEXT, _params(ctx))


@event.listens_for(Session, "after_begin")
def _apply_context(session: Session, transaction, connection) -> None:
    # Runs once per transaction on the connection the session just checked out.
    connection.execute(_SET_CONTEXT, _params(get_context(session)))


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
    """The process's engine and session factory (a Flask extension, also used by Celery).

    In a request, `db.session` is one session for the request, closed at teardown; views
    commit once. Elsewhere, `db.scope(ctx)` is one unit of work.
    """

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.sessionmaker = sessionmaker(expire_on_commit=False)

    def configure(self, url: str, pool_size: int = 10) -> None:
        if self.engine is not None:
            self.engine.dispose()
        self.engine = make_engine(url, pool_size=pool_size)
        self.sessionmaker.configure(bind=self.engine)

    def init_app(self, app) -> None:
        if self.engine is None or app.config["DB_RECONFIGURE"]:
            self.configure(app.config["app_database_url"], app.config["DB_POOL_SIZE"])
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
