"""Helpers for tests/accounts (test modules import them from here, not from a conftest)."""

from __future__ import annotations

import re

from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Email, OutboxMessage, User


def emailed_link(to: str, kind: str) -> str:
    """The path of the link in the newest stored email of `kind` to `to` (the outbox row the
    mail task will send)."""
    with db.scope(SYSTEM) as s:
        email = s.scalars(
            select(Email)
            .where(Email.to_address == to, Email.kind == kind)
            .order_by(Email.created_at.desc())
        ).first()
        assert email is not None, f"no {kind} email to {to}"
        m = re.search(r"https?://[^/\s]+(/\S+)", email.text_body)
        assert m, email.text_body
        return m.group(1)


def queued(task: str) -> list[OutboxMessage]:
    """The outbox rows of `task` written so far (in this test's transaction)."""
    with db.scope(SYSTEM) as s:
        return list(
            s.scalars(
                select(OutboxMessage).where(OutboxMessage.task == task).order_by(OutboxMessage.id)
            )
        )


_ran: set[int] = set()


def run_queued(app, task: str) -> int:
    """Run the queued `task` rows not run yet, in this process, through the Celery task
    itself (as the worker would, minus the broker). Returns how many ran."""
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()  # the task modules, as a worker imports them
    celery_task = celery.tasks[task]
    count = 0
    for msg in queued(task):
        key = hash((msg.id, msg.created_at))
        if key in _ran:
            continue
        _ran.add(key)
        celery_task(**msg.args)
        count += 1
    return count


def user_id_of(email: str):
    with db.scope(SYSTEM) as s:
        return s.scalar(select(User.id).where(User.email == email))
