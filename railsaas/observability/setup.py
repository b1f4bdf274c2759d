"""Wires logging, metrics, error reporting and the audit guard into the web app and the
Celery worker (both build the app with create_app, which calls `init_app`).

Celery side, through signals (connected once per process):
- logging: Celery leaves logging to us (setup_logging has a receiver), each task's lines carry
  the id of the web request that queued it (a `request_id` message header), the task name
  and id, and its tenant;
- metrics: task run time by outcome, failures and retries;
- failed jobs: a task's final failure is kept in `job_failures` for the admin's jobs page;
- multiprocess metrics: a prefork child that exits is marked dead, and a worker on its own
  machine can serve /metrics itself (WORKER_METRICS_PORT).
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
import traceback as tb
import uuid
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from celery import signals
from flask import Flask, g, request
from prometheus_client import multiprocess

from railsaas.db import SYSTEM
from railsaas.extensions import db, redis_client
from railsaas.models import JobFailure
from railsaas.observability import audit_guard, error_reporting, metrics
from railsaas.observability import logging as logs

log = logging.getLogger(__name__)

_UNTIMED_ENDPOINTS = frozenset({"static", "ops.metrics"})


def init_app(app: Flask) -> None:
    logs.init_app(app)
    error_reporting.init_app(app)

    @app.after_request
    def _count_request(response):
        started = g.get("request_started")
        if started is not None and request.endpoint not in _UNTIMED_ENDPOINTS:
            endpoint = request.url_rule.endpoint if request.url_rule else "unmatched"
            metrics.http_request(
                endpoint, request.method, response.status_code, time.perf_counter() - started
            )
        metrics.sample_process()
        return response

    audit_guard.init_app(app)  # after_request hooks run last-registered first: this one
    celery = app.extensions.get("celery")
    if celery is not None:
        celery.flask_app = app  # for signal receivers that run outside a task's app context


# --- Celery -----------------------------------------------------------------------------------

_started: dict[str, tuple[float, Any]] = {}  # task id -> (start time, log-field token)
_lock = threading.Lock()


@signals.setup_logging.connect(weak=False, dispatch_uid="railsaas.setup_logging")
def _celery_keeps_our_logging(**kwargs) -> None:
    """create_app already configured logging; a receiver here stops Celery's own setup."""


@signals.before_task_publish.connect(weak=False, dispatch_uid="railsaas.publish_request_id")
def _publish_request_id(headers: dict | None = None, **kwargs) -> None:
    rid = logs.current_request_id()
    if rid and headers is not None:
        headers.setdefault("request_id", rid)


def _tenant_of(task, kwargs: dict | None) -> uuid.UUID | None:
    """The task's tenant: the outbox's `tenant_id` header, else a tenant_id argument."""
    value = getattr(getattr(task, "request", None), "tenant_id", None) or (kwargs or {}).get(
        "tenant_id"
    )
    try:
        return uuid.UUID(str(value)) if value else None
    except (ValueError, TypeError, AttributeError):
        return None


@signals.task_prerun.connect(weak=False, dispatch_uid="railsaas.task_prerun")
def _task_prerun(
    task_id: str | None = None, task=None, kwargs: dict | None = None, **_: Any
) -> None:
    request_id = getattr(task.request, "request_id", None) if task is not None else None
    name = getattr(task, "name", None)
    token = logs.set_fields(
        request_id=logs.sane_request_id(request_id) or task_id,
        task=name,
        task_id=task_id,
        tenant_id=_tenant_of(task, kwargs),
        action=f"task.{name}",
    )
    with _lock:
        _started[task_id] = (time.perf_counter(), token)


@signals.task_postrun.connect(weak=False, dispatch_uid="railsaas.task_postrun")
def _task_postrun(
    task_id: str | None = None, task=None, state: str | None = None, **_: Any
) -> None:
    with _lock:
        started, token = _started.pop(task_id, (None, None))
    name = getattr(task, "name", "unknown")
    if started is not None:
        elapsed = time.perf_counter() - started
        metrics.task_finished(name, (state or "unknown").lower(), elapsed)
        _log_task_run(name, state, elapsed)
    metrics.sample_process()
    if token is not None:
        logs.reset_fields(token)


# Celery's states as the log's statuses.
_TASK_STATUS = {
    "SUCCESS": "succeeded",
    "FAILURE": "failed",
    "RETRY": "retrying",
    "IGNORED": "ignored",
    "REJECTED": "rejected",
    "REVOKED": "revoked",
}


def _log_task_run(name: str, state: str | None, elapsed: float) -> None:
    """One line per task run, with the task's bound fields (its tenant, the request that
    queued it). A job beat fires every few seconds logs its successes at DEBUG, as Celery's
    own lines for it are dropped (logging.PeriodicChatterFilter): a line a second otherwise."""
    status = _TASK_STATUS.get(state or "", (state or "unknown").lower())
    level = logging.INFO
    if status == "failed":
        level = logging.WARNING
    elif status == "succeeded" and name in logs.PeriodicChatterFilter.task_names:
        level = logging.DEBUG
    log.log(
        level,
        "task.%s %s",
        name,
        status,
        extra={
            "service": name.split(".")[0],
            "action": f"task.{name}",
            "duration_ms": round(elapsed * 1000, 1),
            "status": status,
        },
    )


# Beat: every task it sends stamps "beat is alive" in Redis for the BeatNotTicking alert
# (set only in beat's own process; the web and workers publish tasks too).
_beat_redis = None


@signals.beat_init.connect(weak=False, dispatch_uid="railsaas.beat_init")
def _beat_init(sender=None, **_: Any) -> None:
    global _beat_redis
    flask_app = getattr(getattr(sender, "app", None), "flask_app", None)
    if flask_app is not None and flask_app.config.get("REDIS_URL"):
        _beat_redis = redis_client(flask_app.config["REDIS_URL"])


@signals.before_task_publish.connect(weak=False, dispatch_uid="railsaas.beat_tick")
def _beat_published(**_: Any) -> None:
    if _beat_redis is not None:
        metrics.beat_tick(_beat_redis)


@signals.task_retry.connect(weak=False, dispatch_uid="railsaas.task_retry")
def _task_retry(sender=None, **_: Any) -> None:
    metrics.task_retried(getattr(sender, "name", "unknown"))


@signals.task_failure.connect(weak=False, dispatch_uid="railsaas.task_failure")
def _task_failure(
    sender=None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    args=None,
    kwargs: dict | None = None,
    einfo=None,
    **_: Any,
) -> None:
    name = getattr(sender, "name", "unknown")
    metrics.task_failed(name, type(exception).__name__ if exception else "unknown")
    try:
        record_job_failure(sender, task_id, exception, args, kwargs, einfo)
    except Exception:  # the database may be why the task failed: log, never mask it
        log.exception("could not record the failed job", extra={"task": name})


def record_job_failure(task, task_id, exception, args, kwargs, einfo) -> None:
    flask_app = getattr(getattr(task, "app", None), "flask_app", None)
    if flask_app is None:
        return
    r = logs.redactor
    trace = (
        str(einfo.traceback)
        if einfo is not None
        else "".join(tb.format_exception(exception))
        if exception
        else None
    )
    stored_args = dict(kwargs or {})
    if args:
        stored_args["_args"] = list(args)
    request_id = getattr(getattr(task, "request", None), "request_id", None)
    with flask_app.app_context(), db.scope(SYSTEM) as session:
        session.add(
            JobFailure(
                task_name=getattr(task, "name", "unknown"),
                task_id=task_id,
                tenant_id=_tenant_of(task, kwargs),
                args=r.value(stored_args) or None,
                exception_type=type(exception).__name__ if exception else "unknown",
                message=r(str(exception))[:2000] if exception else None,
                traceback=r(trace)[-20000:] if trace else None,
                retries=getattr(getattr(task, "request", None), "retries", 0) or 0,
                request_id=logs.sane_request_id(request_id),
            )
        )


@signals.worker_process_shutdown.connect(weak=False, dispatch_uid="railsaas.mp_dead")
def _mark_process_dead(**_: Any) -> None:
    if metrics.multiproc_dir():
        multiprocess.mark_process_dead(os.getpid())


@signals.worker_init.connect(weak=False, dispatch_uid="railsaas.worker_metrics")
def _serve_worker_metrics(sender=None, **_: Any) -> None:
    app = getattr(getattr(sender, "app", None), "flask_app", None)
    port = app.config.get("WORKER_METRICS_PORT") if app is not None else None
    if port:
        serve_metrics(port, app.config.get("METRICS_TOKEN") or "")


def serve_metrics(port: int, token: str, host: str | None = None):
    """Serve /metrics from this process in a daemon thread (the Celery worker's main process,
    which in multiprocess mode reads every child's samples). With a token it listens on
    every interface and requires it; without one, on loopback only."""

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if token and not (
            auth.startswith("Bearer ")
            and hmac.compare_digest(auth[7:].strip().encode(), token.encode())
        ):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="metrics"')],
            )
            return [b"metrics require a bearer token\n"]
        body, content_type = metrics.render()
        start_response("200 OK", [("Content-Type", content_type), ("Cache-Control", "no-store")])
        return [body]

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args):  # noqa: A002  (the scrapes are not news)
            pass

    bind = host or ("0.0.0.0" if token else "127.0.0.1")  # noqa: S104  (token required)
    server = make_server(bind, port, wsgi, handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    log.info("worker metrics on %s:%s/metrics", bind, server.server_port)
    return server
