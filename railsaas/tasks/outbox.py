"""Beat job that resends outbox rows left undispatched."""

from __future__ import annotations

from celery import shared_task

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.platform import outbox


@shared_task(name="outbox.sweep")
def sweep() -> int:
    with db.scope(SYSTEM) as session:
        return outbox.sweep(session)
