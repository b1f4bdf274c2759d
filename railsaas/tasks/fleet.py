"""The pool of Railway workspaces: each one's spend against Railway's usage limit
(railsaas.fleet.spend)."""

from __future__ import annotations

from celery import shared_task

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.fleet import spend


@shared_task(name="fleet.spend_hourly")
def spend_hourly() -> dict:
    """Beat: hourly. Each Railway workspace's spend this month; admins told near the limit."""
    with db.scope(SYSTEM) as session:
        return spend.refresh(session)
