"""Uptime jobs: the minute's checks and the hourly roll-up (railsaas.uptime.monitor)."""

from __future__ import annotations

from datetime import UTC, datetime

from celery import shared_task

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.uptime import monitor


@shared_task(name="uptime.check")
def check() -> dict:
    """Beat: every minute. Up to UPTIME_MAX_PER_RUN due instances, a bounded number at once."""
    return monitor.run()


@shared_task(name="uptime.rollup")
def rollup() -> dict:
    """Beat: hourly. Raw checks into hourly roll-ups; both trimmed to their retention."""
    with db.scope(SYSTEM) as session:
        return monitor.rollup(session, datetime.now(UTC))
