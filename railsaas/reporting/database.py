"""The database's own view of its work, for the admin: the statements that cost the most,
from `pg_stat_statements` when the server has it (the extension must be in
shared_preload_libraries and created in this database; managed PostgreSQL services offer it).

Read-only. Without the extension the page says how to enable it instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

TOP = 25

_STATEMENTS = text("""
    SELECT query, calls, total_exec_time, mean_exec_time, rows
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    ORDER BY total_exec_time DESC
    LIMIT :top
""")


@dataclass(frozen=True)
class Statement:
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int


@dataclass(frozen=True)
class StatementReport:
    available: bool
    reason: str | None
    statements: list[Statement]


def top_statements(session: Session, top: int = TOP) -> StatementReport:
    installed = session.scalar(
        text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')")
    )
    if not installed:
        return StatementReport(
            False, "The pg_stat_statements extension is not installed in this database.", []
        )
    try:
        with session.begin_nested():  # an unloaded extension errors: keep the transaction
            rows = session.execute(_STATEMENTS, {"top": top}).all()
    except DBAPIError as exc:
        return StatementReport(False, str(exc.orig).splitlines()[0], [])
    return StatementReport(
        True,
        None,
        [
            Statement(
                " ".join(r.query.split()),
                int(r.calls),
                float(r.total_exec_time),
                float(r.mean_exec_time),
                int(r.rows),
            )
            for r in rows
        ],
    )
