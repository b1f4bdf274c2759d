"""The daily database backup (railsaas.platform.backups), sent by beat.

A failure raises: the worker's task_failure hook keeps it in `job_failures` (/admin/jobs),
and `backups.run` has already logged it and left the failure timestamp the alerts read.
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from railsaas.extensions import redis_client
from railsaas.platform import backups

log = logging.getLogger(__name__)


# Acknowledged on receipt and never retried automatically: a dump can outlast the broker's
# visibility timeout, and a redelivered copy would run a second backup beside the first.
# A missed day shows as a failed job and in the alerts; tomorrow's run or an admin's retry
# from /admin/jobs takes another.
@shared_task(name=backups.TASK_NAME, acks_late=False, autoretry_for=(), max_retries=0)
def run() -> str:
    config = current_app.config
    if config["DEBUG"] and not config["BACKUP_S3_BUCKET"]:
        log.info("backups are not configured (BACKUP_S3_BUCKET): skipped")
        return "not configured"
    return backups.run(config, redis_client()).key
