"""Counting the SQL statements a piece of code sends (queries-per-request tests)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine

# Sent only by the test harness: savepoints (commits inside `dbconn`'s outer transaction) and
# SET LOCAL ROLE (how the test connection acts as each login; the app's engines are each one
# login and never send it).
TEST_ONLY = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "SET LOCAL ROLE")


@contextlib.contextmanager
def counting(target=Engine) -> Iterator[list[str]]:
    """Every statement sent through `target` (by default every engine, the test's own
    connection included) while the block runs, but the harness's."""
    statements: list[str] = []

    def note(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(TEST_ONLY):
            statements.append(statement)

    event.listen(target, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(target, "before_cursor_execute", note)
