"""Prometheus metrics, and the small hook API the rest of the product calls.

Hooks (cheap, never raise, safe in web and worker processes):

    from railsaas import metrics

    metrics.registration()                                # accounts: a sign-up completed
    metrics.deploy_finished("succeeded", kind="deploy")  # lifecycle: a deploy step settled
    with metrics.railway_call("deployTemplate"):          # time one request; an exception
        ...                                               # escaping counts as an error
    metrics.railway_request("deployTemplate", seconds, error=None | "rate_limited" | ...)
    metrics.railway_error("deployTemplate", "not_found")  # a GraphQL error answer
    metrics.railway_rate_headers(response.headers)        # X-RateLimit-Remaining / -Limit
    metrics.railway_rate_remaining(remaining, limit=None)
    metrics.cache_lookup("catalog", hit=True)            # any cache: one hit or miss

Collected here without anyone calling: HTTP requests by endpoint (count, latency, 5xx
errors), Celery task durations and failures (signals, see railsaas.observability.setup), and
instances by status, queried from the database when /metrics is scraped.

Several processes (gunicorn workers, Celery prefork children): set PROMETHEUS_MULTIPROC_DIR
to an empty directory shared by the processes of one machine before they start; each writes
its samples there and /metrics merges them (prometheus_client's multiprocess mode). Web and
worker on separate machines (separate Railway services): the worker serves its own metrics
on WORKER_METRICS_PORT (see railsaas.observability.setup); scrape both.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator

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
from sqlalchemy import func, select

from railsaas.models import Instance

log = logging.getLogger(__name__)

NAMESPACE = "railsaas"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Latency buckets in seconds: web requests are fast, Railway calls and tasks slower.
_WEB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_SLOW_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)

HTTP_REQUESTS = Counter(
    "http_requests", "HTTP requests by endpoint, method and status code.",
    ["endpoint", "method", "status"], namespace=NAMESPACE)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request, by endpoint.",
    ["endpoint", "method"], namespace=NAMESPACE, buckets=_WEB_BUCKETS)
HTTP_ERRORS = Counter(
    "http_request_errors", "HTTP requests answered with a 5xx status, by endpoint.",
    ["endpoint", "method"], namespace=NAMESPACE)
UNAUDITED_WRITES = Counter(
    "unaudited_writes", "Successful state-changing requests that wrote no audit row.",
    ["endpoint"], namespace=NAMESPACE)

REGISTRATIONS = Counter("registrations", "Completed sign-ups.", namespace=NAMESPACE)
DEPLOYS = Counter(
    "deploys", "Deploy steps that reached an outcome (succeeded, failed, timed_out, ...).",
    ["outcome", "kind"], namespace=NAMESPACE)

RAILWAY_LATENCY = Histogram(
    "railway_request_duration_seconds", "Railway API request time by GraphQL operation.",
    ["operation"], namespace=NAMESPACE, buckets=_SLOW_BUCKETS)
RAILWAY_ERRORS = Counter(
    "railway_request_errors", "Failed Railway API requests by operation and error kind.",
    ["operation", "error"], namespace=NAMESPACE)
# The budget is shared through Redis across processes: the newest reading wins.
RAILWAY_RATE_REMAINING = Gauge(
    "railway_rate_limit_remaining", "Railway requests left in the current rate window.",
    namespace=NAMESPACE, multiprocess_mode="mostrecent")
RAILWAY_RATE_LIMIT = Gauge(
    "railway_rate_limit", "Railway requests allowed per rate window.",
    namespace=NAMESPACE, multiprocess_mode="mostrecent")

CELERY_TASK_DURATION = Histogram(
    "celery_task_duration_seconds", "Celery task run time by task and outcome.",
    ["task", "outcome"], namespace=NAMESPACE, buckets=_SLOW_BUCKETS)
CELERY_TASK_FAILURES = Counter(
    "celery_task_failures", "Celery tasks that raised (retries not counted), by task.",
    ["task", "exception"], namespace=NAMESPACE)
CELERY_TASK_RETRIES = Counter(
    "celery_task_retries", "Celery task retries scheduled, by task.", ["task"],
    namespace=NAMESPACE)

CACHE_LOOKUPS = Counter(
    "cache_lookups", "Cache lookups by cache and result (hit or miss).",
    ["cache", "result"], namespace=NAMESPACE)


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
def cache_lookup(cache: str, hit: bool) -> None:
    CACHE_LOOKUPS.labels(cache=cache, result="hit" if hit else "miss").inc()


def error_kind(exc: BaseException) -> str:
    name = type(exc).__name__
    return "".join("_" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


# --- collected by the web app and the worker (railsaas.observability.setup) -----------------

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
            f"{NAMESPACE}_instances", "Instances by status (deleted ones excluded).",
            labels=["status"])
        for status, n in sorted(self.counts.items()):
            by_status.add_metric([status], n)
        yield by_status
        active = GaugeMetricFamily(
            f"{NAMESPACE}_instances_active", "Instances running or on their way to running.")
        active.add_metric([], sum(n for s, n in self.counts.items() if s in ACTIVE_STATUSES))
        yield active


# Instances that occupy Railway resources and count against a plan.
ACTIVE_STATUSES = frozenset({"requested", "provisioning", "deploying", "running",
                             "redeploying", "starting", "crashed"})


def instance_counts(session) -> dict[str, int]:
    rows = session.execute(
        select(Instance.status, func.count()).where(Instance.status != "deleted")
        .group_by(Instance.status)).all()
    return {status: n for status, n in rows}


def render(instance_counts_: dict[str, int] | None = None,
           path: str | None = None) -> tuple[bytes, str]:
    """The exposition text for /metrics: the process (or merged multiprocess) samples,
    then the database-derived gauges."""
    body = generate_latest(process_registry(path))
    if instance_counts_ is not None:
        db_registry = CollectorRegistry(auto_describe=False)
        db_registry.register(InstancesCollector(instance_counts_))
        body += generate_latest(db_registry)
    return body, CONTENT_TYPE_LATEST
