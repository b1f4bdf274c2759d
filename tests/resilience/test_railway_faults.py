"""Deploys while Railway misbehaves: 20% 5xx, 5% 429, some timeouts and lost answers.

The real path: the deploy form (web) writes the instance, its step and an outbox row; the
outbox hands the step to a Celery worker, which talks to the emulator over HTTP; the poll
(sent by a stand-in for beat) watches the deploys until they settle. Short form: 30
deploys; long form (--runslow): 200.

Every instance must end terminal (running, or failed with a reason), no instance may have
two Railway projects (nor a project exist for no instance), and no row may be lost.
"""

from __future__ import annotations

import collections
import contextlib

import pytest
from sqlalchemy import func, select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.instances.steps import PROJECT_PREFIX
from railsaas.models import AuditLog, Deployment, Instance, OutboxMessage, Tenant
from tests.resilience.processes import MiniBeat
from tests.support import csrf_from, login_as, wait_until
from tests.support.lifecycle import railway_template
from tests.support.resilience import purge_broker

FAULTS = {
    "error_rate": 0.20,
    "error_status": 503,  # Railway (or its proxy) failing
    "rate_limit_rate": 0.05,
    "retry_after": 1,  # 429 with Retry-After
    # No answer within the client's read timeout (2 s here): the request did not run...
    "timeout_rate": 0.02,
    "timeout_seconds": 3,
    # ...or it ran and its answer was lost: the duplicate-project trap.
    "lose_response_rate": 0.2,
    "lose_response_operations": ["ProjectCreate", "TemplateDeployV2"],
}
TERMINAL = {"running", "failed"}


def _deploy_all(app, factory, emulator, count: int) -> tuple[list[str], object]:
    plan = factory.plan(max_instances=count + 10, spend_cap_default_cents=10_000_000)
    user, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
    template = railway_template(emulator, factory, "ghost")
    browser = app.test_client()
    login_as(app, browser, user)
    csrf = csrf_from(browser.get("/instances/").get_data(as_text=True))
    ids = []
    for n in range(count):
        resp = browser.post(
            f"/templates/{template.id}/deploy",
            data={"name": f"app-{n}"},
            headers={"HX-Request": "true", "X-CSRFToken": csrf},
        )
        assert resp.status_code == 204, resp.get_data(as_text=True)
        ids.append(resp.headers["HX-Redirect"].rsplit("/", 1)[1])
    return ids, template


def _drain(timeout: float = 30.0) -> None:
    """Let the tasks still running finish before the worker stops (the emulator's held
    answers come back within seconds once faults are off)."""
    from celery.worker import state

    # Best effort, as before: a task still running after `timeout` is the worker's to stop.
    with contextlib.suppress(AssertionError):
        wait_until(
            lambda: not state.active_requests,
            timeout=timeout,
            interval=0.2,
            message="the worker's running tasks to finish",
        )


def _statuses(ids) -> dict[str, tuple[str, str | None]]:
    with db.scope(SYSTEM) as s:
        rows = s.execute(
            select(Instance.id, Instance.status, Instance.status_reason).where(Instance.id.in_(ids))
        ).all()
    return {str(i): (status, reason) for i, status, reason in rows}


@pytest.mark.timeout(1500)  # the long form waits up to its deploy timeout (600 s) and more
def test_deploys_survive_railway_errors_rate_limits_and_timeouts(
    app, committed_factory, railway_emulator, servers, long_form
):
    from celery.contrib.testing.worker import start_worker

    count = 200 if long_form else 30
    # A deploy Railway never finishes is failed with a reason after this; the wait below
    # outlasts it, so "terminal" cannot be missed by waiting too little.
    deploy_timeout = 600 if long_form else 150
    saved = app.config["DEPLOY_TIMEOUT_SECONDS"]
    app.config["DEPLOY_TIMEOUT_SECONDS"] = deploy_timeout
    app.config["RAILWAY_CLIENT_OPTIONS"] = {
        **app.config["RAILWAY_CLIENT_OPTIONS"],
        "read_timeout": 2.0,
    }
    railway_emulator.set_faults(**FAULTS)
    celery = app.extensions["celery"]
    purge_broker(servers.redis_url)
    try:
        with start_worker(
            celery,
            pool="threads",
            concurrency=8,
            perform_ping_check=False,
            shutdown_timeout=60,
            loglevel="WARNING",
        ):
            with MiniBeat(celery.conf.broker_url, poll_every=1.0, sweep_every=5.0):
                ids, template = _deploy_all(app, committed_factory, railway_emulator, count)

                def settled():
                    seen = _statuses(ids)
                    return seen if all(s in TERMINAL for s, _ in seen.values()) else None

                final = wait_until(
                    settled,
                    message="every instance running or failed",
                    timeout=deploy_timeout + 180,
                    interval=1.0,
                )
                faults_seen = railway_emulator.requests(limit=0)["by_fault"]
                railway_emulator.clear_faults()
            _drain()
    finally:
        app.config["DEPLOY_TIMEOUT_SECONDS"] = saved
        railway_emulator.clear_faults()

    outcomes = collections.Counter(s for s, _ in final.values())
    print(f"\nfaults: {count} deploys -> {dict(outcomes)}; faults injected: {faults_seen}")
    # The faults really happened (each kind), so surviving them means something.
    for kind in ("error", "rate_limit", "timeout", "lose_response"):
        assert faults_seen.get(kind, 0) > 0, faults_seen

    # 1. Every instance ended terminal; a failed one says why.
    assert len(final) == count
    for iid, (status, reason) in final.items():
        assert status in TERMINAL, (iid, status)
        if status == "failed":
            assert reason, f"instance {iid} failed without a reason"

    # 2. No duplicate Railway project, and none for no instance: one live project per
    #    instance that got one, the one it records, holding the template deployed once.
    state = railway_emulator.state()
    projects = [
        p for p in state["projects"] if p["name"].startswith(PROJECT_PREFIX) and not p["deleted"]
    ]
    by_name = collections.Counter(p["name"] for p in projects)
    assert [n for n, c in by_name.items() if c > 1] == [], "duplicate Railway projects"
    assert set(by_name) <= {f"{PROJECT_PREFIX}{i}" for i in ids}, "project of no instance"
    services = len(template.serialized_config["services"])
    with db.scope(SYSTEM) as s:
        recorded = {
            str(i): p
            for i, p in s.execute(
                select(Instance.id, Instance.railway_project_id).where(Instance.id.in_(ids))
            )
        }
    for p in projects:
        iid = p["name"][len(PROJECT_PREFIX) :]
        assert len(p["services"]) <= services, f"template deployed twice into {p['name']}"
        assert recorded[iid] in (None, p["id"]), f"{iid} records another project"
    for iid, (status, _) in final.items():
        if status == "running":
            assert by_name[f"{PROJECT_PREFIX}{iid}"] == 1

    # 3. No lost rows: every instance accepted by the form is there with its deploy step
    #    (finished), its audit entry, and its outbox row handed to the broker.
    with db.scope(SYSTEM) as s:
        steps = s.execute(
            select(
                Deployment.instance_id, Deployment.kind, Deployment.status, Deployment.reason
            ).where(Deployment.instance_id.in_(ids))
        ).all()
        audits = s.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "instance.create")
        )
        undispatched = s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.dispatched_at.is_(None))
        )
    assert sorted(str(i) for i, *_ in steps) == sorted(ids), "a deploy step is missing"
    for iid, kind, status, reason in steps:
        assert kind == "deploy"
        expected = "succeeded" if final[str(iid)][0] == "running" else "failed"
        assert status == expected, (iid, status, final[str(iid)])
        if status == "failed":
            assert reason
    assert audits == count
    assert undispatched == 0
