"""Celery app and tasks. Tasks take ids, never ORM objects or secrets, and run inside the
Flask app context (so they share config, the engine and templates with the web app).

Worker: `celery -A railsaas.tasks.worker worker`; beat: `celery -A railsaas.tasks.worker beat`.
"""

from __future__ import annotations

from datetime import timedelta

from celery import Celery, Task
from celery.schedules import crontab
from flask import Flask, current_app
from sqlalchemy.exc import OperationalError

from railsaas.instances.cadence import POLL_INTERVAL
from railsaas.observability.logging import PeriodicChatterFilter

# Modules whose tasks the worker imports. Add a module here when you add one.
TASK_MODULES = [
    "railsaas.tasks.accounts",
    "railsaas.tasks.billing",
    "railsaas.tasks.mail",
    "railsaas.tasks.outbox",
    "railsaas.tasks.instances",
    "railsaas.tasks.backups",
    "railsaas.tasks.uptime",
    "railsaas.tasks.fleet",
]

# Periodic jobs (Celery beat). Each entry: name -> {"task": ..., "schedule": ...}.
BEAT_SCHEDULE: dict[str, dict] = {
    "outbox-sweep": {"task": "outbox.sweep", "schedule": timedelta(seconds=30)},
    "instances-poll": {
        "task": "instances.poll",
        "schedule": POLL_INTERVAL,
        "options": {"expires": 10},
    },
    "instances-reconcile": {"task": "instances.reconcile", "schedule": timedelta(minutes=15)},
    "billing-usage-hourly": {"task": "billing.usage_hourly", "schedule": timedelta(hours=1)},
    "fleet-spend-hourly": {"task": "fleet.spend_hourly", "schedule": timedelta(hours=1)},
    "billing-dunning": {"task": "billing.dunning", "schedule": timedelta(hours=1)},
    "billing-plan-limits": {"task": "billing.plan_limits", "schedule": timedelta(hours=1)},
    "billing-catch-up-events": {
        "task": "billing.catch_up_events",
        "schedule": timedelta(minutes=30),
    },
    "billing-sync-plan-prices": {
        "task": "billing.sync_plan_prices",
        "schedule": timedelta(hours=24),
    },
    # Daily, at a quiet hour (UTC); the alert wants a success at least every 26 hours.
    "backups-daily": {"task": "backups.run", "schedule": crontab(hour=3, minute=17)},
    "mail-scrub-bodies": {"task": "mail.scrub_bodies", "schedule": timedelta(hours=1)},
    # A run that could not start within the minute is dropped: the next one is due anyway.
    "uptime-check": {
        "task": "uptime.check",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 50},
    },
    "uptime-rollup": {"task": "uptime.rollup", "schedule": crontab(minute=7)},
    "billing-template-costs": {
        "task": "billing.template_costs",
        "schedule": crontab(hour=4, minute=41),
    },
}

# The status poll has a queue (and a worker line in the Procfile) of its own: a burst of
# deploy steps on the main queue must not delay the poll that watches them.
POLL_QUEUE = "polls"
TASK_ROUTES = {"instances.poll": {"queue": POLL_QUEUE}, "instances.refresh": {"queue": POLL_QUEUE}}

# Jobs beat fires more than once a minute: their routine runs are not logged (see
# railsaas.observability.logging.PeriodicChatterFilter).
FREQUENT_TASKS = {
    e["task"]
    for e in BEAT_SCHEDULE.values()
    if isinstance(e["schedule"], timedelta) and e["schedule"] < timedelta(minutes=1)
}


def broker_transport_options(visibility_timeout: int) -> dict:
    """Celery on Redis: a task is acknowledged when done (acks_late), so one whose worker
    died (SIGKILL, out of memory, a redeploy's hard stop) stays "unacked" and the broker gives
    it to another worker once `visibility_timeout` has passed. Every worker looks for such
    tasks every tenth of that (at most every 10 s, not kombu's default 100 s)."""
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": max(1, min(10, visibility_timeout // 10)),
        "unacked_restore_throttle": 1,
    }


def capped_countdown(seconds: float) -> float:
    """A retry countdown kept under half the visibility timeout: a worker holds a task that
    waits for its countdown unacknowledged, and one held past the timeout would be given to
    a second worker as well."""
    return min(seconds, current_app.config["CELERY_VISIBILITY_TIMEOUT"] / 2)


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        # The database dropped the connection mid-task (failover, restart) or gave up on a
        # statement: run the task again shortly, on a fresh connection, rather than lose
        # the work (a deploy step would sit queued until the deploy timeout). Tasks are
        # idempotent (platform/outbox.py), so a retry of half-done work is safe.
        autoretry_for = (OperationalError,)
        retry_kwargs = {"max_retries": 10}
        retry_backoff = 2
        retry_backoff_max = 60

        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=app.config["CELERY_BROKER_URL"] or app.config["REDIS_URL"],
        result_backend=None,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        # A task is acknowledged when done, so a worker killed mid-task hands it to another.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=broker_transport_options(
            int(app.config["CELERY_VISIBILITY_TIMEOUT"])
        ),
        broker_connection_retry_on_startup=True,
        timezone="UTC",
        include=TASK_MODULES,
        beat_schedule=BEAT_SCHEDULE,
        task_routes=TASK_ROUTES,
        worker_hijack_root_logger=False,
    )
    celery.conf.update(app.config["CELERY"])
    PeriodicChatterFilter.quiet(FREQUENT_TASKS)
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
