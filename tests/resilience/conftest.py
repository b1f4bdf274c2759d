"""Fixtures for the load and failure suite (issue 10, section 2).

Short form by default (part of `make test`); `--runslow` runs the long form (sizes and
durations of the issue). Everything is real: PostgreSQL as the app role, Redis, Celery
workers, gunicorn on a real port, the Railway emulator over HTTP with its fault injection.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass

import pytest

from tests.resilience.processes import LOGS, CeleryWorker, Gunicorn, RedisServer, child_env
from tests.support.resilience import (  # noqa: F401
    USER_AGENT,
    Browser,
    deploying_workspace,
    purge_broker,
    session_cookie,
)

VISIBILITY_TIMEOUT = "10"


@pytest.fixture
def long_form(request) -> bool:
    return bool(request.config.getoption("--runslow"))


@dataclass
class Stack:
    """The product as deployed, on this machine: gunicorn (the Procfile's web process) and a
    Celery worker (its worker process), with a Redis of their own (cache, rate limits,
    broker: it can be restarted without disturbing the rest of the suite), the session's
    database as the app role, and Railway at the emulator (production client options)."""

    redis: RedisServer
    env: dict[str, str]
    web: Gunicorn
    worker: CeleryWorker

    @property
    def url(self) -> str:
        return self.web.url

    def new_worker(self) -> CeleryWorker:
        self.worker = CeleryWorker(self.env).ready()
        return self.worker

    def ensure_up(self) -> None:
        """Whatever a previous test stopped (or a failure left down) is started again."""
        if self.redis.proc is None or not self.redis.proc.alive():
            self.redis.start()
        if not self.web.alive():
            self.web = Gunicorn(self.env).ready()
        if not self.worker.alive():
            self.new_worker()

    def redis_conn(self):
        import redis

        return redis.Redis.from_url(self.redis.url, decode_responses=True)

    def forget(self) -> None:
        """What the previous test left in the stack's Redis that rows no longer back: the
        catalog cache, the Railway budget and breaker, instance locks, queued tasks."""
        from railsaas.catalog.templates import CACHE_KEY

        r = self.redis_conn()
        try:
            keys = [CACHE_KEY, "celery", "unacked", "unacked_index"]
            for pattern in ("railway:*", "instance-lock:*", "throttle:*"):
                keys += list(r.scan_iter(pattern))
            r.delete(*keys)
        finally:
            r.close()

    def stop(self) -> None:
        for proc in (self.worker, self.web):
            if proc.alive():
                proc.stop()
        self.redis.stop()


@pytest.fixture(scope="session")
def _stack(servers, railway_emulator_server):
    from tests.support.railway import RAILWAY_TEST_TOKEN

    redis = RedisServer(LOGS / f"redis-{uuid.uuid4().hex[:6]}").start()
    # A short visibility timeout (600 s in production) so that the worker-kill test sees a
    # dead worker's task handed on within seconds.
    env = child_env(
        RAILWAY_API_URL=railway_emulator_server.graphql_url,
        RAILWAY_API_TOKEN=RAILWAY_TEST_TOKEN,
        RAILWAY_WORKSPACE_ID="ws-test",
        REDIS_URL=redis.url,
        CACHE_REDIS_URL="",  # caches in the stack's Redis
        CELERY_VISIBILITY_TIMEOUT=VISIBILITY_TIMEOUT,
        LOG_LEVEL="INFO",
    )
    web, worker = Gunicorn(env), CeleryWorker(env)  # both start at once
    stack = Stack(redis=redis, env=env, web=web.ready(), worker=worker.ready())
    yield stack
    stack.stop()
    shutil.rmtree(redis.dir, ignore_errors=True)


@pytest.fixture
def stack(_stack, committed, railway_emulator):
    """The stack, up and clean, for one test (rows really commit; truncated afterwards)."""
    _stack.ensure_up()
    _stack.forget()
    yield _stack
    _stack.forget()
