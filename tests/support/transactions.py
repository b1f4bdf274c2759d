"""One connection inside one outer transaction that everything rolls back: the `dbconn`
fixture's, per test, and the role matrix's, per module (each case then runs inside a
savepoint of its own, rolled back in turn)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

from sqlalchemy import Connection, Engine

from railsaas import dbadmin
from railsaas.config import Config
from railsaas.extensions import db


@contextlib.contextmanager
def rolled_back_connection(engine: Engine) -> Iterator[Connection]:
    """The connection acts as the web login (SET ROLE); each session transaction on it
    switches to its context's login with SET LOCAL ROLE, inside a savepoint, so that code
    under test may commit. Everything is rolled back at the end."""
    conn = engine.connect()
    outer = conn.begin()
    prep = conn.dialect.identifier_preparer
    logins = {kind: prep.quote_identifier(name) for kind, name in _login_names().items()}
    conn.exec_driver_sql(f"SET ROLE {logins['web']}")
    db.bind_connection(conn, logins, join_transaction_mode="create_savepoint")
    try:
        yield conn
    finally:
        db.unbind_connection(join_transaction_mode="conditional_savepoint")
        outer.rollback()
        conn.close()


@functools.cache
def _login_names() -> dict[str, str]:
    # Once per session: a Config() reads and validates the whole environment (milliseconds,
    # and every test opens a connection).
    return {kind: name for kind, (name, _) in dbadmin.logins(Config()).items()}
