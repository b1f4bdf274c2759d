"""Celery tasks that exist only for the observability tests (registered on import)."""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger("railsaas.tasks.testing")


@shared_task(name="tests.observability.log_line")
def log_line(message: str, tenant_id: str | None = None) -> str:
    log.info(message, extra={"action": "test_task"})
    return "ok"


class Boom(RuntimeError):
    pass


@shared_task(name="tests.observability.boom")
def boom(secret_hint: str, tenant_id: str | None = None) -> None:
    raise Boom(f"could not reach Railway with {secret_hint}")
