"""Every state-changing request writes an audit row: checked after each request.

A request is state-changing when its method is POST, PUT, PATCH or DELETE, it succeeded
(status below 400), and it wrote to the database (an INSERT, UPDATE or DELETE on any table
but audit_log, seen at the cursor, so Core statements and raw SQL count too; a rolled-back
transaction clears it). If no `audit.record()` call happened during it and the view is not
marked `@audit.exempt(...)`:

- AUDIT_GUARD = "strict" (the default when TESTING): the response becomes a 500 naming the
  endpoint, so the test that exercised the route fails;
- "warn" (the default otherwise): an error log line and the `railsaas_unaudited_writes`
  counter, the user's request unharmed;
- "off": nothing.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from railsaas.observability import metrics

log = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_WRITE = re.compile(
    r'^\s*(?:WITH\b.*?\)\s*)?(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?',
    re.IGNORECASE | re.DOTALL,
)
IGNORED_TABLES = frozenset({"audit_log"})


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(conn, cursor, statement, parameters, context, executemany) -> None:
    if not has_request_context():
        return
    m = _WRITE.match(statement)
    if m and m.group(2).lower() not in IGNORED_TABLES:
        g.setdefault("db_writes", set()).add(m.group(2).lower())


@event.listens_for(Session, "after_soft_rollback")
def _forget_writes(session: Session, previous_transaction) -> None:
    # Only the outermost transaction's rollback undoes what the request wrote.
    if previous_transaction.parent is None and has_request_context():
        g.pop("db_writes", None)


def bookkeeping_only() -> None:
    """The writes of this request so far were bookkeeping (a personal API token's last use,
    noted while authenticating), not a state change the audit log has to explain."""
    if has_request_context():
        g.pop("db_writes", None)


def _exempt_reason(endpoint: str | None) -> str | None:
    if endpoint is None:
        return "no endpoint"
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "audit_exempt", None)


def violation(response: Response) -> str | None:
    """The endpoint that changed state without an audit row, or None."""
    if request.method not in MUTATING or response.status_code >= 400:
        return None
    if not g.get("db_writes") or g.get("audit_rows", 0) > 0:
        return None
    if _exempt_reason(request.endpoint):
        return None
    return request.endpoint or request.path


def init_app(app: Flask) -> None:
    if not app.config["AUDIT_GUARD"]:  # the setting's default: strict in tests
        app.config["AUDIT_GUARD"] = "strict" if app.config["TESTING"] else "warn"

    @app.after_request
    def _check_audited(response: Response) -> Response:
        mode = app.config["AUDIT_GUARD"]
        if mode == "off":
            return response
        endpoint = violation(response)
        if endpoint is None:
            return response
        tables = sorted(g.get("db_writes", ()))
        log.error(
            "state-changing request wrote no audit row",
            extra={"endpoint": endpoint, "tables": tables},
        )
        metrics.unaudited_write(endpoint)
        app.extensions.setdefault("audit_violations", []).append(endpoint)
        if mode == "strict":
            return Response(
                f"audit guard: {request.method} {endpoint} wrote to {', '.join(tables)} "
                "but recorded no audit row (call platform.audit.record, or mark the view "
                "@audit.exempt(reason))\n",
                status=500,
                mimetype="text/plain",
            )
        return response
