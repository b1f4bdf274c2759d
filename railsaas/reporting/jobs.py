"""What went wrong in the background, for the admin's jobs page: tasks that failed for good
(`job_failures`, written by the worker), emails that will not send, outbox rows never
handed to the broker, and deployments stuck past the deploy timeout. Callers run as the
admin login (context role 'platform_admin', docs/security.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from railsaas.errors import Conflict, NotFound
from railsaas.instances import states
from railsaas.models import Deployment, Email, Instance, JobFailure, OutboxMessage, Tenant
from railsaas.platform import audit, outbox

# Statuses in which an instance waits on Railway (DESIGN section 4).
IN_FLIGHT = tuple(sorted(states.IN_FLIGHT))


def open_failures(session: Session, limit: int = 100) -> list[JobFailure]:
    return list(
        session.scalars(
            select(JobFailure)
            .where(JobFailure.resolved_at.is_(None))
            .order_by(JobFailure.failed_at.desc())
            .limit(limit)
        )
    )


def failure_counts(session: Session, since: timedelta = timedelta(days=7)) -> list[tuple]:
    """(task name, failures) over the window, most failing first."""
    cutoff = datetime.now(UTC) - since
    return list(
        session.execute(
            select(JobFailure.task_name, func.count())
            .where(JobFailure.failed_at >= cutoff)
            .group_by(JobFailure.task_name)
            .order_by(func.count().desc())
        ).all()
    )


def _failure(session: Session, failure_id: int) -> JobFailure:
    failure = session.get(JobFailure, failure_id, with_for_update=True)
    if failure is None:
        raise NotFound("No such failed job.")
    if failure.resolved_at is not None:
        raise Conflict(f"This failure was already {failure.resolution}.")
    return failure


def retry(session: Session, failure_id: int, admin_id: uuid.UUID) -> JobFailure:
    """Send the task again with the arguments it failed with (after commit, through the
    outbox). Tasks are idempotent, so a retry of something that half-happened is safe."""
    failure = _failure(session, failure_id)
    args = dict(failure.args or {})
    if args.pop("_args", None):
        raise Conflict(
            "This task was called with positional arguments; it cannot be retried from here."
        )
    args.pop("tenant_id", None)  # the outbox row carries the tenant
    outbox.enqueue(session, failure.task_name, tenant_id=failure.tenant_id, **args)
    _resolve(failure, "retried", admin_id)
    audit.record(
        session,
        "admin.job_retry",
        target_type="job_failure",
        target_id=failure.id,
        tenant_id=None,
        details={"task": failure.task_name},
    )
    return failure


def dismiss(session: Session, failure_id: int, admin_id: uuid.UUID) -> JobFailure:
    failure = _failure(session, failure_id)
    _resolve(failure, "dismissed", admin_id)
    audit.record(
        session,
        "admin.job_dismiss",
        target_type="job_failure",
        target_id=failure.id,
        tenant_id=None,
        details={"task": failure.task_name},
    )
    return failure


def _resolve(failure: JobFailure, resolution: str, admin_id: uuid.UUID) -> None:
    failure.resolution = resolution
    failure.resolved_at = datetime.now(UTC)
    failure.resolved_by = admin_id


@dataclass(frozen=True)
class StuckInstance:
    instance: Instance
    tenant_name: str
    waiting: timedelta
    step: Deployment | None


def stuck_instances(
    session: Session, timeout_seconds: int, limit: int = 100, now: datetime | None = None
) -> list[StuckInstance]:
    """Instances waiting on Railway for longer than the deploy timeout, with their open step.
    The poller fails these itself; any listed here mean it is behind or not running."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(seconds=timeout_seconds)
    since = func.coalesce(Instance.status_changed_at, Instance.updated_at)
    open_step = (
        select(Deployment.instance_id, func.max(Deployment.created_at).label("at"))
        .where(Deployment.finished_at.is_(None))
        .group_by(Deployment.instance_id)
        .subquery()
    )
    rows = (
        session.execute(
            select(Instance, Tenant.name, since, Deployment)
            .join(Tenant, Tenant.id == Instance.tenant_id)
            .outerjoin(open_step, open_step.c.instance_id == Instance.id)
            .outerjoin(
                Deployment,
                (Deployment.instance_id == Instance.id)
                & (Deployment.created_at == open_step.c.at)
                & Deployment.finished_at.is_(None),
            )
            .where(Instance.status.in_(IN_FLIGHT), since < cutoff)
            .order_by(since)
            .limit(limit)
        )
        .unique()
        .all()
    )
    return [StuckInstance(inst, name, now - started, step) for inst, name, started, step in rows]


def failing_emails(session: Session, limit: int = 50) -> list[Email]:
    return list(
        session.scalars(
            select(Email)
            .where(Email.sent_at.is_(None), Email.attempts > 0)
            .order_by(Email.created_at.desc())
            .limit(limit)
        )
    )


def outbox_backlog(
    session: Session, older_than: timedelta = timedelta(minutes=5), limit: int = 50
) -> list[OutboxMessage]:
    """Work committed but never handed to the broker (the sweep resends it every 30 s, so a
    long list means the broker or beat is down)."""
    cutoff = datetime.now(UTC) - older_than
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dispatched_at.is_(None), OutboxMessage.created_at < cutoff)
            .order_by(OutboxMessage.created_at)
            .limit(limit)
        )
    )
