"""Instance lifecycle tasks: perform a step, poll Railway in batches, reconcile.

Tasks take ids only. A step that Railway refuses outright fails the instance with the
reason; one that hits a retryable error (rate limit, Railway down, lost answer) is retried
with capped backoff, and the poll's deploy timeout fails it if Railway never recovers.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import Counter

from celery import shared_task

from railsaas.instances import poll as polling
from railsaas.instances import reconcile as reconciliation
from railsaas.instances import steps
from railsaas.instances.lock import StepDeferred
from railsaas.railway import errors as rw
from railsaas.railway import pool
from railsaas.tasks import capped_countdown

log = logging.getLogger(__name__)

MAX_RETRIES = 40


def _countdown(retries: int, retry_after: float | None = None) -> float:
    base = min(60.0, 2.0 * 2 ** min(retries, 5))
    # A long Retry-After (the hourly budget spent) is waited out over several retries.
    return capped_countdown(max(retry_after or 0.0, random.uniform(base / 2, base)))


# A dropped database connection is retried too (FlaskTask), within the step's own budget:
# the retry count is shared with Railway's retries and the deferrals.
@shared_task(
    name="instances.run_step",
    bind=True,
    max_retries=MAX_RETRIES,
    acks_late=True,
    retry_kwargs={"max_retries": MAX_RETRIES * 5},
)
def run_step(self, step_id: str) -> str:
    sid = uuid.UUID(step_id)
    try:
        return steps.run_step(sid)
    except StepDeferred:
        raise self.retry(countdown=3 + random.random() * 2, max_retries=MAX_RETRIES * 5) from None
    except rw.RailwayError as exc:
        if (exc.retryable or isinstance(exc, rw.NotFound)) and self.request.retries < MAX_RETRIES:
            raise self.retry(countdown=_countdown(self.request.retries, exc.retry_after)) from None
        log.warning("step %s failed: %s", step_id, exc)
        steps.fail_step(sid, f"Railway refused the request: {exc.message}")
        return "failed"


@shared_task(name="instances.poll")
def poll() -> dict:
    """Beat: every few seconds. Instances due (changing ones every few seconds, settled ones
    every few minutes, see instances.next_poll_at) in batched status requests."""
    # Whatever a round counts (polled, changed, domains, timed out...), added up.
    total: Counter[str] = Counter(polled=0, changed=0, timed_out=0)
    # Each Railway workspace of the pool on its own: its own budget, breaker and batches.
    workspaces = [e.id for e in pool.entries() if e.state != "closed"] or [None]
    for workspace in workspaces:
        for _ in range(10):  # up to 10 batches a round each; the rest wait for the next round
            counts = polling.poll(railway_workspace_id=workspace)
            total.update(counts)
            if counts["polled"] < polling.POLL_BATCH:
                break
    return dict(total)


@shared_task(name="instances.refresh")
def refresh(instance_ids: list[str]) -> dict:
    """Poll these instances now (a Railway webhook named them)."""
    return polling.poll(only=[uuid.UUID(i) for i in instance_ids])


@shared_task(name="instances.reconcile")
def reconcile() -> int:
    try:
        return len(reconciliation.reconcile()["findings"])
    except rw.RailwayError as exc:
        log.warning("reconcile skipped: %s", exc)
        return -1


@shared_task(name="instances.delete_orphan_project", bind=True, max_retries=10)
def delete_orphan_project(self, project_id: str) -> str:
    try:
        reconciliation.fix_orphan_project(project_id)
    except rw.RailwayError as exc:
        if exc.retryable:
            raise self.retry(countdown=_countdown(self.request.retries, exc.retry_after)) from None
        raise
    return "deleted"
