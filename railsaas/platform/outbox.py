"""The transactional outbox: work to do after commit, written with the change that needs it.

`enqueue()` adds a row in the caller's transaction. When that transaction commits, the rows
are sent to Celery and marked dispatched; `sweep()` (beat) resends rows a crash left behind.
Tasks must therefore be idempotent: they may run more than once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import current_app as current_celery
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from railsaas.db import SYSTEM, db, set_context
from railsaas.models import OutboxMessage
from railsaas.platform import unscoped

log = logging.getLogger(__name__)
_PENDING = "outbox_pending"


def enqueue(
    session: Session, task: str, *, tenant_id: uuid.UUID | None = None, **args: Any
) -> OutboxMessage:
    """Queue `task(**args)` to run after the caller's transaction commits. Args are ids and
    plain values only: they are stored in the database and sent to the broker."""
    msg = OutboxMessage(
        task=task,
        tenant_id=tenant_id,
        args={k: str(v) if isinstance(v, uuid.UUID) else v for k, v in args.items()},
    )
    if tenant_id is None:
        unscoped.insert_row(session, msg)  # a row of no workspace: see platform/unscoped.py
    else:
        session.add(msg)
        session.flush()
    session.info.setdefault(_PENDING, []).append((msg.id, task, msg.args, tenant_id))
    return msg


def _send(
    task: str, args: dict[str, Any], outbox_id: int, tenant_id: uuid.UUID | None = None
) -> None:
    # The tenant travels as a header, so the worker's logs and failure records name it.
    headers: dict[str, Any] = {"outbox_id": outbox_id}
    if tenant_id is not None:
        headers["tenant_id"] = str(tenant_id)
    current_celery.send_task(task, kwargs=args, headers=headers)


def dispatch_pending(session: Session) -> int:
    """Send what this session's committed transaction queued. Called after commit."""
    pending = session.info.pop(_PENDING, [])
    if not pending:
        return 0
    sent = []
    for outbox_id, task, args, tenant_id in pending:
        try:
            _send(task, args, outbox_id, tenant_id)
            sent.append(outbox_id)
        except Exception:  # broker down: the sweep will resend it
            log.warning("outbox dispatch failed; left for the sweep", extra={"task": task})
    if sent:
        _mark_dispatched(session, sent)
    return len(sent)


def _mark_dispatched(session: Session, ids: list[int]) -> None:
    # As the system login, in a session of its own: rows of no workspace (a reset email's)
    # are invisible to the web login that queued them, and the caller's transaction is over.
    with db.sessionmaker() as s:
        set_context(s, SYSTEM)
        s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(dispatched_at=datetime.now(UTC))
        )
        s.commit()


def discard_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def sweep(session: Session, older_than: timedelta = timedelta(seconds=20), batch: int = 500) -> int:
    """Resend rows committed but never dispatched (a crash between commit and send)."""
    cutoff = datetime.now(UTC) - older_than
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.dispatched_at.is_(None), OutboxMessage.created_at < cutoff)
        .order_by(OutboxMessage.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    for msg in rows:
        _send(msg.task, msg.args, msg.id, msg.tenant_id)
        msg.dispatched_at = datetime.now(UTC)
        msg.attempts += 1
    return len(rows)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.get(_PENDING):
        dispatch_pending(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    discard_pending(session)
