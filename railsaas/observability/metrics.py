"""Prometheus metrics, and the small hook API the rest of the product calls.

Hooks (cheap, never raise, safe in web and worker processes):

    from railsaas.observability import metrics

    metrics.registration()                                # accounts: a sign-up completed
    metrics.deploy_finished("succeeded", kind="deploy")  # lifecycle: a deploy step settled
    with metrics.railway_call("deployTemplate"):          # time one request; an exception
        ...                                               # escaping counts as an error
    metrics.railway_request("deployTemplate", seconds, error=None | "rate_limited" | ...)
    metrics.railway_error("deployTemplate", "not_found")  # a GraphQL error answer
    metrics.railway_rate_headers(response.headers)        # X-RateLimit-Remaining / -Limit
    metrics.railway_rate_remaining(remaining, limit=None)
    metrics.cache_lookup("catalog", hit=True)            # any cache: one hit or miss
    metrics.stripe_events_caught_up(n)                    # billing: catch-up found n missed
    metrics.beat_tick(redis)                              # beat: it just sent a task
    metrics.backup_finished(redis, ok=True)               # the backup job: it finished

Collected here without anyone calling: HTTP requests by endpoint (count, latency, 5xx
errors), Celery task durations and failures (signals, see railsaas.observability.setup.setup), and
instances by status, queried from the database when /metrics is scraped, with the backlogs
and datastore readings the alerts need (the block at the end of this module; the alerts are
in deploy/prometheus/rules, their runbooks in docs/operations.md).

Several processes (gunicorn workers, Celery prefork children): set PROMETHEUS_MULTIPROC_DIR
to an empty directory shared by the processes of one machine before they start; each writes
its samples there and /metrics merges them (prometheus_client's multiprocess mode). Web and
worker on separate machines (separate Railway services): the worker serves its own metrics
on WORKER_METRICS_PORT (see railsaas.observability.setup.setup); scrape both.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from datetime import timedelta

import redis
from flask import current_app, has_app_context
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from sqlalchemy import Integer, cast, event, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from railsaas.models import Email, Instance, OutboxMessage, StripeEvent, Tenant
from railsaas.models.instance import ACTIVE, IN_FLIGHT

log = logging.getLogger(__name__)

NAMESPACE = "railsaas"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Latency buckets in seconds: web requests are fast, Railway calls and tasks slower.
_WEB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_SLOW_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests by endpoint, method and status code.",
    ["endpoint", "method", "status"],
    namespace=NAMESPACE,
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint.",
    ["endpoint", "method"],
    namespace=NAMESPACE,
    buckets=_WEB_BUCKETS,
)
HTTP_ERRORS = Counter(
    "http_request_errors",
    "HTTP requests answered with a 5xx status, by endpoint.",
    ["endpoint", "method"],
    namespace=NAMESPACE,
)
UNAUDITED_WRITES = Counter(
    "unaudited_writes",
    "Successful state-changing requests that wrote no audit row.",
    ["endpoint"],
    namespace=NAMESPACE,
)

REGISTRATIONS = Counter("registrations", "Completed sign-ups.", namespace=NAMESPACE)
DEPLOYS = Counter(
    "deploys",
    "Deploy steps that reached an outcome (succeeded, failed, timed_out, ...).",
    ["outcome", "kind"],
    namespace=NAMESPACE,
)

RAILWAY_LATENCY = Histogram(
    "railway_request_duration_seconds",
    "Railway API request time by GraphQL operation.",
    ["operation"],
    namespace=NAMESPACE,
    buckets=_SLOW_BUCKETS,
)
RAILWAY_ERRORS = Counter(
    "railway_request_errors",
    "Failed Railway API requests by operation and error kind.",
    ["operation", "error"],
    namespace=NAMESPACE,
)
# The budget is shared through Redis across processes: the newest reading wins.
RAILWAY_RATE_REMAINING = Gauge(
    "railway_rate_limit_remaining",
    "Railway requests left in the current rate window.",
    namespace=NAMESPACE,
    multiprocess_mode="mostrecent",
)
RAILWAY_RATE_LIMIT = Gauge(
    "railway_rate_limit",
    "Railway requests allowed per rate window.",
    namespace=NAMESPACE,
    multiprocess_mode="mostrecent",
)
# Each Railway workspace of the pool (railsaas.fleet.spend, hourly): spend this month
# against Railway's own usage limit, at which Railway stops every workload in it.
RAILWAY_WORKSPACE_SPEND = Gauge(
    "railway_workspace_spend_cents",
    "Spend this month of a Railway workspace of the pool, in cents, at Railway's prices.",
    ["workspace"],
    namespace=NAMESPACE,
    multiprocess_mode="mostrecent",
)
RAILWAY_WORKSPACE_SPEND_RATIO = Gauge(
    "railway_workspace_spend_ratio",
    "Spend this month of a Railway workspace over its Railway usage limit (absent: no limit).",
    ["workspace"],
    namespace=NAMESPACE,
    multiprocess_mode="mostrecent",
)

CELERY_TASK_DURATION = Histogram(
    "celery_task_duration_seconds",
    "Celery task run time by task and outcome.",
    ["task", "outcome"],
    namespace=NAMESPACE,
    buckets=_SLOW_BUCKETS,
)
CELERY_TASK_FAILURES = Counter(
    "celery_task_failures",
    "Celery tasks that raised (retries not counted), by task.",
    ["task", "exception"],
    namespace=NAMESPACE,
)
CELERY_TASK_RETRIES = Counter(
    "celery_task_retries", "Celery task retries scheduled, by task.", ["task"], namespace=NAMESPACE
)

CACHE_LOOKUPS = Counter(
    "cache_lookups",
    "Cache lookups by cache and result (hit or miss).",
    ["cache", "result"],
    namespace=NAMESPACE,
)

# Database statements, timed around the cursor (SQLAlchemy events, see _watch_statements).
_DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
DB_QUERY_DURATION = Histogram(
    "db_query_duration_seconds",
    "Database statement time by kind (select, insert, update, delete, other).",
    ["kind"],
    namespace=NAMESPACE,
    buckets=_DB_BUCKETS,
)
DB_SLOW_QUERIES = Counter(
    "db_slow_queries",
    "Statements slower than SLOW_QUERY_MS (each also logged).",
    ["kind"],
    namespace=NAMESPACE,
)
DB_POOL_OVERFLOW = Gauge(
    "db_pool_overflow",
    "Connections open beyond the pool size (QueuePool overflow), per process.",
    namespace=NAMESPACE,
    multiprocess_mode="liveall",
)

# prometheus-client's own process_* collector reads only the scraping process, and is absent
# in multiprocess mode: these are sampled by every process (after each request, each task and
# each scrape) and exported per pid ("liveall": gunicorn marks exited workers dead).
PROCESS_CPU = Gauge(
    "process_cpu_seconds",
    "CPU time (user + system) this process has used.",
    namespace=NAMESPACE,
    multiprocess_mode="liveall",
)
PROCESS_RSS = Gauge(
    "process_resident_memory_bytes",
    "Resident memory of this process.",
    namespace=NAMESPACE,
    multiprocess_mode="liveall",
)


# --- hooks ------------------------------------------------------------------------------------
# Metrics must never break the thing they measure: every hook swallows its own errors.


def _safe(fn):
    def wrapper(*args, **kwargs):
        try:
            fn(*args, **kwargs)
        except Exception:  # pragma: no cover  (a label mistake must not fail a deploy)
            log.debug("metric hook %s failed", fn.__name__, exc_info=True)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_safe
def registration() -> None:
    """A sign-up completed (call after the user row is written)."""
    REGISTRATIONS.inc()


@_safe
def deploy_finished(outcome: str, kind: str = "deploy") -> None:
    """A deploy step settled. outcome: succeeded | failed | timed_out | crashed | canceled;
    kind: deploy | redeploy | restart | start."""
    DEPLOYS.labels(outcome=outcome, kind=kind).inc()


@_safe
def railway_request(operation: str, seconds: float, error: str | None = None) -> None:
    """One Railway API request. error: None on success, else a short kind such as
    rate_limited, unauthorized, not_found, unavailable, invalid_request, timeout."""
    RAILWAY_LATENCY.labels(operation=operation).observe(seconds)
    if error:
        RAILWAY_ERRORS.labels(operation=operation, error=error).inc()


@contextlib.contextmanager
def railway_call(operation: str) -> Iterator[None]:
    """Time one Railway request; an exception escaping the block counts as an error whose
    kind is the exception's class name in snake case (RateLimited -> rate_limited)."""
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        railway_request(operation, time.perf_counter() - started, error=error_kind(exc))
        raise
    railway_request(operation, time.perf_counter() - started)


@_safe
def railway_error(operation: str, error: str) -> None:
    """A Railway answer that was an error (GraphQL errors: not_found, unauthorized, ...),
    its latency already counted by railway_request."""
    RAILWAY_ERRORS.labels(operation=operation, error=error).inc()


@_safe
def railway_rate_headers(headers) -> None:
    """Read Railway's X-RateLimit-Remaining / -Limit response headers, when present."""
    remaining = headers.get("x-ratelimit-remaining")
    if remaining is None:
        return
    limit = headers.get("x-ratelimit-limit")
    railway_rate_remaining(float(remaining), float(limit) if limit is not None else None)


@_safe
def railway_rate_remaining(remaining: float, limit: float | None = None) -> None:
    RAILWAY_RATE_REMAINING.set(remaining)
    if limit is not None:
        RAILWAY_RATE_LIMIT.set(limit)


@_safe
def railway_workspace_spend(workspace: str, cents: int, limit_cents: int | None) -> None:
    RAILWAY_WORKSPACE_SPEND.labels(workspace=workspace).set(cents)
    if limit_cents:
        RAILWAY_WORKSPACE_SPEND_RATIO.labels(workspace=workspace).set(cents / limit_cents)


@_safe
def cache_lookup(cache: str, hit: bool) -> None:
    CACHE_LOOKUPS.labels(cache=cache, result="hit" if hit else "miss").inc()


def error_kind(exc: BaseException) -> str:
    name = type(exc).__name__
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


# --- collected by the web app and the worker (railsaas.observability.setup.setup) -----------------


@_safe
def http_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(endpoint=endpoint, method=method, status=str(status)).inc()
    HTTP_LATENCY.labels(endpoint=endpoint, method=method).observe(seconds)
    if status >= 500:
        HTTP_ERRORS.labels(endpoint=endpoint, method=method).inc()


@_safe
def unaudited_write(endpoint: str) -> None:
    UNAUDITED_WRITES.labels(endpoint=endpoint).inc()


@_safe
def task_finished(task: str, outcome: str, seconds: float) -> None:
    CELERY_TASK_DURATION.labels(task=task, outcome=outcome).observe(seconds)


@_safe
def task_failed(task: str, exception: str) -> None:
    CELERY_TASK_FAILURES.labels(task=task, exception=exception).inc()


@_safe
def task_retried(task: str) -> None:
    CELERY_TASK_RETRIES.labels(task=task).inc()


# --- this process ----------------------------------------------------------------------------

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


_sampled_at = 0.0
SAMPLE_EVERY = 1.0  # seconds: called after every request and task, read at most this often


@_safe
def sample_process(force: bool = False) -> None:
    """CPU and resident memory of this process (Linux /proc; elsewhere CPU only); at most
    once a second unless `force` (a scrape wants the scraping process's value now)."""
    global _sampled_at
    now = time.monotonic()
    if not force and now - _sampled_at < SAMPLE_EVERY:
        return
    _sampled_at = now
    times = os.times()
    PROCESS_CPU.set(times.user + times.system)
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/statm") as f:
        PROCESS_RSS.set(int(f.read().split()[1]) * _PAGE_SIZE)


# --- database statements ----------------------------------------------------------------------
# The statement text SQLAlchemy sends is already normalised (parameters are placeholders), so
# a slow one is logged as is, never with its values.

SLOW_QUERY_MS_DEFAULT = 500


def statement_kind(statement: str) -> str:
    head = statement.lstrip().split(None, 1)[0].lower() if statement.strip() else ""
    return head if head in ("select", "insert", "update", "delete") else "other"


def _slow_query_ms() -> float:
    if has_app_context():
        return float(current_app.config.get("SLOW_QUERY_MS") or SLOW_QUERY_MS_DEFAULT)
    return SLOW_QUERY_MS_DEFAULT


def _before_cursor(conn, cursor, statement, parameters, context, executemany) -> None:
    conn.info.setdefault("railsaas_query_start", []).append(time.perf_counter())


def _after_cursor(conn, cursor, statement, parameters, context, executemany) -> None:
    try:
        starts = conn.info.get("railsaas_query_start")
        if not starts:
            return
        seconds = time.perf_counter() - starts.pop()
        kind = statement_kind(statement)
        DB_QUERY_DURATION.labels(kind=kind).observe(seconds)
        limit = _slow_query_ms()
        if limit > 0 and seconds * 1000 >= limit:
            DB_SLOW_QUERIES.labels(kind=kind).inc()
            log.warning(
                "slow query",
                extra={
                    "duration_ms": round(seconds * 1000, 1),
                    "kind": kind,
                    "statement": " ".join(statement.split())[:2000],
                },
            )
    except Exception:  # pragma: no cover  (never fail the statement being measured)
        log.debug("query metric failed", exc_info=True)


def _handle_error(context) -> None:
    # A failed statement never reaches after_cursor_execute: drop its start time.
    starts = context.connection.info.get("railsaas_query_start") if context.connection else None
    if starts:
        starts.pop()


def _watch_statements() -> None:
    for name, fn in (
        ("before_cursor_execute", _before_cursor),
        ("after_cursor_execute", _after_cursor),
        ("handle_error", _handle_error),
    ):
        if not event.contains(Engine, name, fn):
            event.listen(Engine, name, fn)


_watch_statements()


# --- exposition -------------------------------------------------------------------------------


def multiproc_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def process_registry(path: str | None = None) -> CollectorRegistry:
    """The registry holding this process's samples, or, in multiprocess mode, every
    process's samples merged from the shared directory."""
    path = path or multiproc_dir()
    if path:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
        return registry
    return REGISTRY


class InstancesCollector:
    """Instances by status, read from the database at scrape time: a gauge that is right
    however many processes changed instances since, at the cost of one grouped count."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def collect(self):
        by_status = GaugeMetricFamily(
            f"{NAMESPACE}_instances",
            "Instances by status (deleted ones excluded).",
            labels=["status"],
        )
        for status, n in sorted(self.counts.items()):
            by_status.add_metric([status], n)
        yield by_status
        active = GaugeMetricFamily(
            f"{NAMESPACE}_instances_active", "Instances running or on their way to running."
        )
        active.add_metric([], sum(n for s, n in self.counts.items() if s in ACTIVE))
        yield active


def instance_counts(session) -> dict[str, int]:
    rows = session.execute(
        select(Instance.status, func.count())
        .where(Instance.status != "deleted")
        .group_by(Instance.status)
    ).all()
    # The one scrape-time call /metrics makes (ops.metrics_view): the alerting readings ride
    # along with the counts, read in the same transaction.
    return Snapshot({status: n for status, n in rows}, alert_readings(session))


def render(
    instance_counts_: dict[str, int] | None = None, path: str | None = None
) -> tuple[bytes, str]:
    """The exposition text for /metrics: the process (or merged multiprocess) samples,
    then the database-derived gauges."""
    body = generate_latest(process_registry(path))
    if instance_counts_ is not None:
        db_registry = CollectorRegistry(auto_describe=False)
        db_registry.register(InstancesCollector(instance_counts_))
        readings = getattr(instance_counts_, "readings", None)
        if readings is not None:
            db_registry.register(ReadingsCollector(readings))
        body += generate_latest(db_registry)
    return body, CONTENT_TYPE_LATEST


# ==============================================================================================
# Alerting: what the rules in deploy/prometheus/rules read beyond the metrics above (runbooks
# in docs/operations.md). Three sources:
# - scrape-time readings (database and Redis), taken by `instance_counts` while /metrics runs
#   and exposed by ReadingsCollector: right however many processes changed things since;
# - this process's database pools, followed through SQLAlchemy pool events;
# - hooks for processes nothing scrapes (beat, the backup job): they leave a timestamp in
#   Redis, which the web's scrape reads.
# ==============================================================================================

STRIPE_EVENTS_CAUGHT_UP = Counter(
    "stripe_events_caught_up",
    "Stripe events the catch-up job found that the webhook never delivered.",
    namespace=NAMESPACE,
)
# "liveall": one series per live process (a pid label in multiprocess mode); pools are per
# process, so exhaustion is too.
DB_POOL_IN_USE = Gauge(
    "db_pool_in_use",
    "Database connections this process has checked out of its pools.",
    namespace=NAMESPACE,
    multiprocess_mode="liveall",
)
DB_POOL_SIZE = Gauge(
    "db_pool_size",
    "Most connections this process's pools hand out (size + max overflow).",
    namespace=NAMESPACE,
    multiprocess_mode="liveall",
)

# Redis keys the unscraped processes write (a shell job may too: `SET key <unix time>`).
BEAT_TICK_KEY = "railsaas:metrics:beat_last_tick"
BACKUP_SUCCESS_KEY = "railsaas:metrics:backup_last_success"
BACKUP_FAILURE_KEY = "railsaas:metrics:backup_last_failure"

# mail.deliver retries for about a quarter of an hour (8 retries, backoff capped at half the
# visibility timeout): mail unsent after that is failing. Past a day it is taken for a final
# failure (in job_failures), not a backlog.
EMAIL_LATE_AFTER_SECONDS = 15 * 60
EMAIL_WINDOW_SECONDS = 24 * 3600

# name (after railsaas_) -> (help, label names). Every family is always described, with
# samples only for what was read (a reading that failed is absent, not zero).
READINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "instances_stuck": (
        "In-flight instances past DEPLOY_TIMEOUT_SECONDS (the poller fails these itself: "
        "any here mean it is behind or not running).",
        (),
    ),
    "instance_poll_lag_seconds": (
        "How overdue the most overdue instance status poll is (0: none due).",
        (),
    ),
    "outbox_pending": ("Outbox rows committed but not yet handed to the broker.", ()),
    "outbox_oldest_pending_age_seconds": (
        "Age of the oldest outbox row not yet handed to the broker (0: none).",
        (),
    ),
    "emails_unsent": ("Emails queued in the last 24 hours and not sent yet.", ()),
    "emails_unsent_late": ("Emails queued 15 minutes to 24 hours ago and still not sent.", ()),
    "stripe_events_unprocessed": ("Stored Stripe events not applied yet.", ()),
    "stripe_events_oldest_unprocessed_age_seconds": (
        "Time since the oldest unapplied Stripe event was received (0: none).",
        (),
    ),
    "spend_cap_reached": (
        "Workspaces whose spend cap has stopped their instances this period.",
        (),
    ),
    "db_connections": ("Client connections open on the PostgreSQL server.", ()),
    "db_max_connections": ("The PostgreSQL server's max_connections.", ()),
    "redis_up": (
        "1 if Redis answered during this scrape, else 0 (role: redis is REDIS_URL, broker a "
        "separate CELERY_BROKER_URL).",
        ("role",),
    ),
    "railway_breaker_open": (
        "1 while the shared Railway circuit breaker is not closed (open, or half-open "
        "waiting for a probe to succeed), else 0.",
        (),
    ),
    "celery_queue_length": ("Messages waiting in a Celery queue on the broker.", ("queue",)),
    "redis_keyspace_hits": (
        "Redis INFO keyspace_hits: lookups that found their key "
        "(a counter since Redis started; use rate()).",
        (),
    ),
    "redis_keyspace_misses": ("Redis INFO keyspace_misses (a counter since Redis started).", ()),
    "redis_used_memory_bytes": ("Redis INFO used_memory.", ()),
    "redis_maxmemory_bytes": ("Redis INFO maxmemory (0: no limit).", ()),
    "redis_connected_clients": ("Redis INFO connected_clients.", ()),
    "beat_last_tick_timestamp_seconds": ("When Celery beat last sent a task (Unix time).", ()),
    "backup_last_success_timestamp_seconds": (
        "When the database backup last succeeded (Unix time).",
        (),
    ),
    "backup_last_failure_timestamp_seconds": (
        "When the database backup last failed (Unix time).",
        (),
    ),
}


class Snapshot(dict):
    """What /metrics reads at scrape time: instances by status (the mapping itself) and the
    alerting readings (`readings`: name -> value, or label values -> value)."""

    def __init__(self, counts: dict[str, int], readings: dict | None = None) -> None:
        super().__init__(counts)
        self.readings = readings or {}


class ReadingsCollector:
    def __init__(self, readings: dict) -> None:
        self.readings = readings

    def collect(self):
        for name, (doc, labels) in READINGS.items():
            family = GaugeMetricFamily(f"{NAMESPACE}_{name}", doc, labels=list(labels))
            value = self.readings.get(name)
            if isinstance(value, dict):
                for label_values, v in sorted(value.items()):
                    family.add_metric(list(label_values), v)
            elif value is not None:
                family.add_metric([], value)
            yield family


def alert_readings(session) -> dict:
    """Everything READINGS names that can be read now. Never raises: a failed reading is
    left out (the rules then stay silent; the runbooks say so)."""

    app = current_app._get_current_object() if has_app_context() else None
    readings: dict = {}
    try:
        with session.begin_nested():  # a failing query must not spoil the scrape's transaction
            readings.update(
                database_readings(
                    session, app.config.get("DEPLOY_TIMEOUT_SECONDS") if app else None
                )
            )
    except Exception:
        log.warning("metrics: database readings failed", exc_info=True)
    if app is not None:
        try:
            readings.update(redis_readings(app))
        except Exception:
            log.warning("metrics: redis readings failed", exc_info=True)
    return readings


def database_readings(session, deploy_timeout: float | None = None) -> dict[str, float]:
    """One round trip: every database reading as a scalar subquery of one SELECT."""

    now = func.now()

    def age(column):  # seconds since the oldest value, NULL when there is none
        return func.extract("epoch", now - func.min(column))

    unsent = (
        Email.sent_at.is_(None),
        Email.created_at >= now - timedelta(seconds=EMAIL_WINDOW_SECONDS),
    )
    queries = {
        "instance_poll_lag_seconds": select(age(Instance.next_poll_at)).where(
            Instance.status != "deleted", Instance.next_poll_at <= now
        ),
        "outbox_pending": select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.dispatched_at.is_(None)),
        "outbox_oldest_pending_age_seconds": select(age(OutboxMessage.created_at)).where(
            OutboxMessage.dispatched_at.is_(None)
        ),
        "emails_unsent": select(func.count()).select_from(Email).where(*unsent),
        "emails_unsent_late": select(func.count())
        .select_from(Email)
        .where(*unsent, Email.created_at < now - timedelta(seconds=EMAIL_LATE_AFTER_SECONDS)),
        "stripe_events_unprocessed": select(func.count())
        .select_from(StripeEvent)
        .where(StripeEvent.processed_at.is_(None)),
        "stripe_events_oldest_unprocessed_age_seconds": select(age(StripeEvent.received_at)).where(
            StripeEvent.processed_at.is_(None)
        ),
        "spend_cap_reached": select(func.count())
        .select_from(Tenant)
        .where(Tenant.spend_cap_state == "capped", Tenant.status != "deleted"),
        # Every session's row is visible to any role (other roles' details are not).
        "db_connections": select(func.count())
        .select_from(text("pg_stat_activity"))
        .where(text("backend_type = 'client backend'")),
        "db_max_connections": select(cast(func.current_setting("max_connections"), Integer)),
    }
    if deploy_timeout:
        since = func.coalesce(Instance.status_changed_at, Instance.updated_at)
        queries["instances_stuck"] = (
            select(func.count())
            .select_from(Instance)
            .where(
                Instance.status.in_(sorted(IN_FLIGHT)),
                since < now - timedelta(seconds=int(deploy_timeout)),
            )
        )
    row = session.execute(
        select(*[q.scalar_subquery().label(name) for name, q in queries.items()])
    ).one()
    return {name: float(v or 0) for name, v in row._mapping.items()}


_scrape_clients: dict[str, object] = {}


def _scrape_redis(url: str):
    """A client that gives up fast (one try, one second): a scrape must answer within
    Prometheus's timeout even when Redis is black-holed."""
    client = _scrape_clients.get(url)
    if client is None:
        client = _scrape_clients[url] = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=1,
            socket_connect_timeout=1,
            retry=Retry(NoBackoff(), 0),
        )
    return client


def redis_readings(app) -> dict:
    """Redis up (and the broker, when separate), Celery queue lengths, and the timestamps
    beat and the backup job leave. (The Railway breaker's state is read by the /metrics view:
    observability sits below the Railway client.)"""

    cfg = app.config
    url = cfg.get("REDIS_URL") or ""
    celery = app.extensions.get("celery")
    broker = (
        (celery.conf.broker_url if celery is not None else None)
        or cfg.get("CELERY_BROKER_URL")
        or url
    )
    readings: dict = {}
    up: dict[tuple[str], float] = {}
    if url:
        client = _scrape_redis(url)
        try:
            beat, ok, failed = client.mget(BEAT_TICK_KEY, BACKUP_SUCCESS_KEY, BACKUP_FAILURE_KEY)
            info = client.info()
        except RedisError:
            up[("redis",)] = 0
        else:
            up[("redis",)] = 1
            for name, value in (
                ("beat_last_tick_timestamp_seconds", beat),
                ("backup_last_success_timestamp_seconds", ok),
                ("backup_last_failure_timestamp_seconds", failed),
            ):
                if value is not None:
                    readings[name] = float(value)
            for name, key in (
                ("redis_keyspace_hits", "keyspace_hits"),
                ("redis_keyspace_misses", "keyspace_misses"),
                ("redis_used_memory_bytes", "used_memory"),
                ("redis_maxmemory_bytes", "maxmemory"),
                ("redis_connected_clients", "connected_clients"),
            ):
                if key in info:
                    readings[name] = float(info[key])
    separate = broker != url
    # A Redis broker, unless it is the Redis just found down (no second timeout).
    if broker.startswith(("redis://", "rediss://")) and (separate or up.get(("redis",))):
        queues = {celery.conf.task_default_queue if celery is not None else "celery"}
        queues |= {q.name for q in ((celery.conf.task_queues if celery else None) or ())}
        broker_client = _scrape_redis(broker)
        try:
            pipe = broker_client.pipeline(transaction=False)
            for queue in sorted(queues):
                pipe.llen(queue)
            lengths = pipe.execute()
        except RedisError:
            if separate:
                up[("broker",)] = 0
        else:
            if separate:
                up[("broker",)] = 1
            readings["celery_queue_length"] = {
                (q,): float(n) for q, n in zip(sorted(queues), lengths, strict=True)
            }
    readings["redis_up"] = up
    return readings


# --- hooks for processes nothing scrapes ------------------------------------------------------


@_safe
def stripe_events_caught_up(n: int) -> None:
    """The catch-up job stored n events the webhook never delivered."""
    if n:
        STRIPE_EVENTS_CAUGHT_UP.inc(n)


_beat_written = 0.0
BEAT_WRITE_EVERY = 5.0  # seconds: beat sends a task every few; one write is enough


@_safe
def beat_tick(redis) -> None:
    """Celery beat just sent a task (call from beat's process, with a Redis client)."""
    global _beat_written
    now = time.time()
    if now - _beat_written >= BEAT_WRITE_EVERY:
        redis.set(BEAT_TICK_KEY, repr(now))
        _beat_written = now


@_safe
def backup_finished(redis, ok: bool, at: float | None = None) -> None:
    """The database backup finished (`ok`) or failed, at `at` (Unix time, default now)."""
    redis.set(BACKUP_SUCCESS_KEY if ok else BACKUP_FAILURE_KEY, repr(at or time.time()))


# --- database pools ---------------------------------------------------------------------------
# In use: the set of checked-out connection records, so a checkin without a counted checkout
# (a failed reconnect on checkout checks the record in) cannot drive the gauge below the truth.
# The listeners run inside SQLAlchemy's checkout and checkin: they must never raise.

_pool_lock = threading.Lock()
_checked_out: set[int] = set()
_pools: weakref.WeakSet = weakref.WeakSet()


def _set_overflow(pool) -> None:
    overflow = getattr(pool, "overflow", None)
    if callable(overflow):
        DB_POOL_OVERFLOW.set(max(0, overflow()))


def _pool_checkout(dbapi_connection, connection_record, connection_proxy) -> None:
    try:
        with _pool_lock:
            _checked_out.add(id(connection_record))
            DB_POOL_IN_USE.set(len(_checked_out))
        _set_overflow(connection_record._pool)
    except Exception:  # pragma: no cover
        log.debug("pool checkout metric failed", exc_info=True)


def _pool_checkin(dbapi_connection, connection_record) -> None:
    try:
        with _pool_lock:
            _checked_out.discard(id(connection_record))
            DB_POOL_IN_USE.set(len(_checked_out))
        _set_overflow(connection_record._pool)
    except Exception:  # pragma: no cover
        log.debug("pool checkin metric failed", exc_info=True)


def pool_capacity(pool) -> int:
    size = getattr(pool, "size", None)
    if not callable(size):
        return 0  # NullPool, StaticPool: no limit to exhaust
    # QueuePool keeps max_overflow without a public accessor; -1 means unlimited.
    overflow = getattr(pool, "_max_overflow", 0)
    return size() + overflow if overflow >= 0 else 0


def _engine_connect(conn) -> None:
    """Learn each pool from the first connection made through its engine (pool events do
    not say which pool they come from)."""
    try:
        pool = conn.engine.pool
        with _pool_lock:
            if pool in _pools:
                return
            _pools.add(pool)
            DB_POOL_SIZE.set(sum(pool_capacity(p) for p in _pools))
    except Exception:  # pragma: no cover
        log.debug("pool size metric failed", exc_info=True)


def _watch_pools() -> None:

    for target, name, fn in (
        (Pool, "checkout", _pool_checkout),
        (Pool, "checkin", _pool_checkin),
        (Pool, "detach", _pool_checkin),
        (Engine, "engine_connect", _engine_connect),
    ):
        if not event.contains(target, name, fn):
            event.listen(target, name, fn)


_watch_pools()
