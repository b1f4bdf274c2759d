"""A Celery worker killed (SIGKILL to its whole process group) in the middle of a deploy:
once another worker starts, the deploy completes, with one Railway project and the template
deployed once.

The worker runs as production runs it (`celery -A railsaas.tasks.worker worker`, prefork).
It is killed while it waits on Railway's answer to templateDeployV2 (the emulator holds
that request), after it created the project and recorded it. Nothing acknowledged the task
(acks_late), so the broker gives it to the next worker after CELERY_VISIBILITY_TIMEOUT
(10 s in the stack, 600 s by default), and the instance lock the dead worker held lapses
within seconds since nobody renews it.
"""

from __future__ import annotations

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Tenant
from tests.resilience.processes import MiniBeat
from tests.support import wait_until
from tests.support.lifecycle import Lifecycle, railway_template
from tests.support.resilience import Browser, session_cookie


def test_a_deploy_completes_after_its_worker_is_killed_mid_step(
    app, committed_factory, railway_emulator, stack
):
    plan = committed_factory.plan(max_instances=5)
    user, tenant = committed_factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
    template = railway_template(railway_emulator, committed_factory, "ghost")
    lc = Lifecycle(
        app=app,
        emulator=railway_emulator,
        factory=committed_factory,
        user=user,
        tenant=tenant,
        template=template,
        browser=None,
    )  # reads rows only
    browser = Browser(stack.url, session_cookie(app, user, tenant.id))
    # Railway takes its time over the template deploy: the worker is inside the step.
    # (applied at once, answered after 120 s: the "slow" fault, as templateDeployV2 may be)
    railway_emulator.script("slow", operation="TemplateDeployV2", seconds=120)
    redis = stack.redis_conn()
    try:
        with MiniBeat(stack.redis.url):
            resp = browser.deploy(template.id, "blog")
            assert resp.status_code == 204, resp.text
            iid = resp.headers["HX-Redirect"].rsplit("/", 1)[1]
            wait_until(
                lambda: railway_emulator.requests("TemplateDeployV2")["total"],
                message="templateDeployV2 sent",
                timeout=120,
                interval=0.5,
            )
            assert lc.instance(iid).railway_project_id  # the step got that far, and said so

            stack.worker.kill()
            # Killed mid-step: nothing finished, and the dead worker's lock is still there. The
            # step says the template deploy may have been applied (recorded before sending):
            # the new worker must watch the project, not send it again.
            assert lc.instance(iid).status == "provisioning"
            assert lc.steps(iid) == [("deploy", "in_progress")]
            assert redis.exists(f"instance-lock:{iid}")

            stack.new_worker()
            wait_until(
                lambda: lc.instance(iid).status in ("running", "failed"),
                message="the deploy settled after the restart",
                timeout=240,
                interval=0.5,
            )
    finally:
        railway_emulator.clear_faults()
        redis.close()
        browser.close()

    inst = lc.instance(iid)
    assert inst.status == "running", (inst.status, inst.status_reason, stack.worker.tail())
    assert lc.steps(iid) == [("deploy", "succeeded")]
    (project,) = lc.projects_named(iid)
    assert project["id"] == inst.railway_project_id
    assert len(project["services"]) == len(template.serialized_config["services"])
    assert railway_emulator.count("ProjectCreate") == 1
    assert railway_emulator.count("TemplateDeployV2") == 1


def test_by_default_a_dead_workers_deploy_is_handed_on_before_the_deploy_timeout(app_ctx):
    """The production defaults: the broker gives a dead worker's task to another worker (and
    looks for such tasks) well before a deploy waiting on it is failed for taking too long,
    and no retry waits long enough to be handed out twice."""
    from railsaas.config import default_of
    from railsaas.tasks import broker_transport_options, capped_countdown

    defaults = {
        name: default_of(name) for name in ("CELERY_VISIBILITY_TIMEOUT", "DEPLOY_TIMEOUT_SECONDS")
    }
    options = broker_transport_options(defaults["CELERY_VISIBILITY_TIMEOUT"])
    handed_on = options["visibility_timeout"] + options["unacked_restore_interval"]
    assert handed_on < defaults["DEPLOY_TIMEOUT_SECONDS"] * 0.75
    assert options["unacked_restore_throttle"] == 1
    visibility = app_ctx.config["CELERY_VISIBILITY_TIMEOUT"]
    assert capped_countdown(3600) < visibility  # an hour's Retry-After is waited in parts
