"""Redis restarted under the running app (gunicorn + a Celery worker, Redis their cache, rate
limiter and broker): while it is down the app degrades rather than fails, and once it is
back everything works again with no manual step: in-flight and new deploys complete, and a
deploy asked for during the outage waits in the outbox (long form: until the sweep sends
it and it completes).

Redis is stopped as a restart stops it (SIGTERM: its append-only file is flushed) and
started again on the same port with the same data directory, like a managed Redis
restarting in place.
"""

from __future__ import annotations

import httpx

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.instances.steps import PROJECT_PREFIX
from railsaas.models import Deployment, Instance, OutboxMessage
from tests.resilience.processes import MiniBeat
from tests.support import wait_until
from tests.support.resilience import Browser, deploying_workspace, session_cookie

HX = {"HX-Request": "true"}


def _pages(browser: Browser, token: str, instance_id: str) -> dict[str, int]:
    """What a signed-in customer and an API client ask for; each reads Redis on the way
    (catalog cache, API rate limits) or shows data the worker keeps fresh."""
    return {
        "dashboard": browser.get("/dashboard").status_code,
        "instance list": browser.get("/instances/").status_code,
        "catalog": browser.get("/templates/").status_code,
        "status partial": browser.get(f"/instances/{instance_id}/status", headers=HX).status_code,
        "api": browser.http.get(
            "/api/instances", headers={"Authorization": f"Bearer {token}"}
        ).status_code,
    }


def _pending_outbox(instance_id: str) -> bool:
    """The instance's deploy step is in the outbox, committed but not handed to the broker."""
    with db.scope(SYSTEM) as s:
        step = s.query(Deployment.id).filter(Deployment.instance_id == instance_id).scalar()
        return (
            s.query(OutboxMessage)
            .filter(
                OutboxMessage.args["step_id"].astext == str(step),
                OutboxMessage.dispatched_at.is_(None),
            )
            .count()
            == 1
        )


def _ready(url: str) -> httpx.Response:
    return httpx.get(f"{url}/readyz", timeout=30)


def test_the_app_and_its_workers_recover_from_a_redis_restart(
    app, committed_factory, railway_emulator, stack, long_form
):
    user, tenant, token, template = deploying_workspace(
        committed_factory, railway_emulator, ["read"]
    )
    browser = Browser(stack.url, session_cookie(app, user, tenant.id))
    ok = {"dashboard": 200, "instance list": 200, "catalog": 200, "status partial": 200, "api": 200}

    def deploy(name: str) -> str:
        resp = browser.deploy(template.id, name)
        assert resp.status_code == 204, resp.text
        return resp.headers["HX-Redirect"].rsplit("/", 1)[1]

    processes = [stack.web, stack.worker]
    try:
        with MiniBeat(stack.redis.url):
            before = deploy("before")  # in flight when Redis goes away
            assert _pages(browser, token, before) == ok
            assert _ready(stack.url).status_code == 200

            stack.redis.stop()
            # Down: readiness says so; pages and the API still answer (Redis is a cache and
            # a rate limiter to them), and a deploy is accepted, its task left for the sweep.
            down = _ready(stack.url)
            assert down.status_code == 503
            assert not down.json()["checks"]["redis"]["ok"]
            assert _pages(browser, token, before) == ok
            during = deploy("during")

            stack.redis.start()
            wait_until(
                lambda: _ready(stack.url).status_code == 200,
                message="ready again",
                timeout=120,
                interval=0.5,
                alive=processes,
            )
            assert _pages(browser, token, before) == ok
            after = deploy("after")
            # The deploy asked for during the outage waits for the outbox sweep (rows older
            # than 20 s, every 30 s under beat): the short form checks it is queued for it,
            # the long form that it completes.
            assert _pending_outbox(during)
            ids = [before, during, after] if long_form else [before, after]

            def settled():
                with db.scope(SYSTEM) as s:
                    statuses = {
                        str(i.id): i.status for i in s.query(Instance).filter(Instance.id.in_(ids))
                    }
                return statuses if set(statuses.values()) <= {"running", "failed"} else None

            # Recovered in place: the same web and worker processes, never restarted.
            final = wait_until(
                settled, message="every deploy settled", timeout=300, interval=0.5, alive=processes
            )
    finally:
        stack.ensure_up()
        browser.close()

    assert final == dict.fromkeys(ids, "running"), (final, stack.worker.tail())
    projects = [p["name"] for p in railway_emulator.state()["projects"] if not p["deleted"]]
    assert sorted(projects) == sorted(f"{PROJECT_PREFIX}{i}" for i in ids)
    if long_form:
        assert not _pending_outbox(during)  # it went out through the sweep
