"""Writing rows that belong to no workspace (tenant_id NULL) from an ordinary request.

The policies let anyone insert such rows into audit_log, emails and outbox (a failed login
for an unknown email, a reset link for a person) while only privileged roles read them. But
INSERT ... RETURNING, which SQLAlchemy uses to fetch generated ids and defaults, must read the
new row back, and the SELECT policy refuses: "new row violates row-level security policy".
So these inserts run with app.role = 'system' for just those statements, and the caller's
context is restored straight after.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from railsaas.db import get_context, set_context


@contextlib.contextmanager
def unscoped_writes(session: Session) -> Iterator[None]:
    """Run the enclosed inserts as app.role='system', then restore the caller's context.

    Pending changes are flushed first, under the caller's own context, so nothing else is
    written with the wider role."""
    session.flush()
    ctx = get_context(session)
    set_context(session, replace(ctx, role="system"))
    try:
        yield
        session.flush()
    except BaseException:
        # The transaction may be aborted; set_context stores the context before it executes,
        # so the next transaction starts with the caller's context either way.
        with contextlib.suppress(SQLAlchemyError):
            set_context(session, ctx)
        raise
    set_context(session, ctx)
