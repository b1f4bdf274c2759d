"""Fixtures for the load and failure suite (issue 10, section 2).

Short form by default (part of `make test`); `--runslow` runs the long form (sizes and
durations of the issue). Everything is real: PostgreSQL as the app role, Redis, Celery
workers, gunicorn on a real port, the Railway emulator over HTTP with its fault injection.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import csrf_from
from tests.resilience.processes import LOGS, CeleryWorker, Gunicorn, RedisServer, child_env

USER_AGENT = "railsaas-resilience/1"
VISIBILITY_TIMEOUT = "10"


def deploying_workspace(factory, emulator, scopes: list[str]):
    """A workspace on a plan that may deploy, an API token of its owner with `scopes`, and the
    emulator's Ghost template in the catalog: (user, tenant, token, template)."""
    from railsaas.accounts import api_tokens
    from railsaas.db import SYSTEM, TenantContext
    from railsaas.extensions import db
    from railsaas.models import Tenant
    from tests.lifecycle.conftest import railway_template

    plan = factory.plan(max_instances=10)
    user, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
    with db.scope(TenantContext(tenant_id=tenant.id, user_id=user.id)) as s:
        _, token = api_tokens.create(s, tenant_id=tenant.id, user_id=user.id, name="ci",
                                     scopes=scopes)
    return user, tenant, token, railway_template(emulator, factory, "ghost")


@pytest.fixture
def long_form(request) -> bool:
    return bool(request.config.getoption("--runslow"))


def session_cookie(app, user, tenant_id=None) -> str:
    """The signed session cookie the login view would set for `user` (Cookie header form),
    for requests from 127.0.0.1 with USER_AGENT (the "strong" session protection checks both)."""
    from flask_login.utils import _create_identifier

    with app.test_request_context(environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                  headers={"User-Agent": USER_AGENT}):
        data = {"_user_id": user.get_id(), "_fresh": True, "_id": _create_identifier()}
        if tenant_id is not None:
            data["tenant_id"] = str(tenant_id)
        value = app.session_interface.get_signing_serializer(app).dumps(data)
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


class Browser:
    """A signed-in browser over real HTTP. The session cookie travels by hand: the app marks
    it Secure (DEBUG=0, as in production), so a cookie jar would not send it over http."""

    def __init__(self, base_url: str, cookie: str, timeout: float = 60.0) -> None:
        self.cookie = cookie
        self.http = httpx.Client(base_url=base_url, timeout=timeout, follow_redirects=False,
                                 headers={"User-Agent": USER_AGENT})

    def request(self, method: str, path: str, headers: dict | None = None,
                **kw) -> httpx.Response:
        resp = self.http.request(method, path, headers={**(headers or {}),
                                                        "Cookie": self.cookie}, **kw)
        for value in resp.headers.get_list("set-cookie"):
            m = re.match(r"(session=[^;]+)", value)
            if m:
                self.cookie = m.group(1)
        return resp

    def get(self, path: str, **kw) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> httpx.Response:
        return self.request("POST", path, **kw)

    def csrf(self) -> str:
        return csrf_from(self.get("/instances/").text)

    def deploy(self, template_id, name: str) -> httpx.Response:
        return self.post(f"/templates/{template_id}/deploy",
                         headers={"HX-Request": "true", "X-CSRFToken": self.csrf()},
                         data={"name": name})

    def close(self) -> None:
        self.http.close()


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
            for pattern in ("railway:*", "instance-lock:*", "ratelimit:*"):
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
    from tests.conftest import RAILWAY_TEST_TOKEN

    redis = RedisServer(LOGS / f"redis-{uuid.uuid4().hex[:6]}").start()
    # A short visibility timeout (600 s in production) so that the worker-kill test sees a
    # dead worker's task handed on within seconds.
    env = child_env(RAILWAY_API_URL=railway_emulator_server.graphql_url,
                    RAILWAY_API_TOKEN=RAILWAY_TEST_TOKEN, RAILWAY_WORKSPACE_ID="ws-test",
                    REDIS_URL=redis.url, CELERY_VISIBILITY_TIMEOUT=VISIBILITY_TIMEOUT,
                    LOG_LEVEL="INFO")
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


def purge_broker(redis_url: str) -> None:
    """Drop every message waiting in the session broker (other tests enqueue tasks with no
    worker running; a worker started here must not run them)."""
    import redis

    r = redis.Redis.from_url(redis_url)
    try:
        r.delete("celery", "unacked", "unacked_index", "unacked_mutex")
    finally:
        r.close()


def wait_until(predicate, what: str, timeout: float, interval: float = 0.5,
               alive: tuple = ()):
    """Call predicate() until it returns something truthy; generous timeouts only (the
    machine may be loaded): this is about whether it happens, not how fast. Fails at once
    if one of the `alive` processes exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        for proc in alive:
            if not proc.alive():
                raise AssertionError(f"{proc.name} exited while waiting for {what}\n"
                                     f"{proc.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {timeout:.0f} s")
        time.sleep(interval)


