"""The whole lifecycle against the Railway emulator, with a real Celery worker."""

from __future__ import annotations

from celery import signals
from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Notification
from tests.support import wait_until
from tests.support.api import auth_header

HX = {"HX-Request": "true"}


def test_deploy_watch_manage_and_delete(lifecycle):
    lc = lifecycle
    iid = lc.deploy("blog")
    assert lc.instance(iid).status in ("requested", "provisioning", "deploying")
    # The page polls its status badge while it changes.
    html = lc.browser.get(f"/instances/{iid}").get_data(as_text=True)
    assert f'hx-get="/instances/{iid}/status"' in html

    lc.wait_for(iid, "running")
    inst = lc.instance(iid)
    assert inst.railway_project_id
    assert inst.railway_service_id
    assert inst.domain
    assert inst.domain.endswith(".up.railway.app")
    assert len(lc.projects_named(iid)) == 1
    assert lc.steps(iid) == [("deploy", "succeeded")]
    status = lc.browser.get(f"/instances/{iid}/status", headers=HX)
    assert status.status_code == 286  # settled: the badge stops polling
    with db.scope(SYSTEM) as s:
        titles = s.scalars(
            select(Notification.title).where(Notification.tenant_id == lc.tenant.id)
        ).all()
    assert "blog is running" in titles

    # Logs and metrics come from Railway through the server (the emulator writes a line
    # every 0.2 s).
    wait_until(
        lambda: (
            'class="log-line' in lc.browser.get(f"/instances/{iid}/logs").get_data(as_text=True)
        ),
        timeout=20,
        interval=0.2,
        message="a log line",
    )
    following = lc.browser.get(
        f"/instances/{iid}/logs?follow=1", headers={**HX, "HX-Target": "tab-content"}
    ).get_data(as_text=True)
    assert following.lstrip().startswith('<section id="tab-content"')
    assert 'class="log-follow"' in following
    tail = lc.browser.get(f"/instances/{iid}/logs?tail=1", headers=HX).get_data(as_text=True)
    assert tail.lstrip().startswith('<div class="log-line')
    assert "every 3s" not in tail  # a tail request without follow=1 ends the polling
    download = lc.browser.get(f"/instances/{iid}/logs.txt")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    lc.emulator.advance(600)  # ten minutes of running: metrics to draw
    metrics = lc.browser.get(f"/instances/{iid}/metrics?window=1h").get_data(as_text=True)
    assert metrics.count('data-testid="chart"') == 4
    assert metrics.count('class="chart-line') >= 2  # CPU and memory at least (railsaas.charts)

    # Changing a variable redeploys.
    resp = lc.browser.post(
        f"/instances/{iid}/variables",
        headers={"X-CSRFToken": lc.csrf()},
        data={"variables.mail__from": "blog@example.com"},
    )
    assert resp.status_code == 303
    assert lc.instance(iid).status == "redeploying"
    lc.wait_for(iid, "running")
    assert lc.instance(iid).config["mail__from"] == "blog@example.com"
    from railsaas.instances.steps import client

    with lc.app.app_context():
        railway_vars = client().variables(
            inst.railway_project_id, inst.railway_environment_id, inst.railway_service_id
        )
    assert railway_vars["mail__from"] == "blog@example.com"

    # A custom domain: added on Railway, with the DNS record to create shown.
    resp = lc.browser.post(
        f"/instances/{iid}/domain",
        headers={"X-CSRFToken": lc.csrf()},
        data={"domain": "blog.example.com"},
    )
    assert resp.status_code == 303
    wait_until(
        lambda: lc.steps(iid)[-1] == ("domain", "succeeded"),
        timeout=20,
        interval=0.2,
        message="the domain step succeeded",
    )
    assert "blog.example.com" in lc.emulator.state()["custom_domains"]
    settings = lc.browser.get(f"/instances/{iid}/settings").get_data(as_text=True)
    dns = settings[settings.index('data-testid="custom-domain-dns"') :]
    dns = dns[: dns.index("</div>")]
    assert "<td>CNAME</td>" in dns
    assert inst.domain not in dns  # Railway's own target (tests/lifecycle/test_custom_domains)

    lc.act(iid, "restart")
    lc.wait_for(iid, "running")
    lc.act(iid, "stop")
    lc.wait_for(iid, "stopped")
    lc.act(iid, "start")
    lc.wait_for(iid, "running")
    lc.act(iid, "redeploy")
    lc.wait_for(iid, "running")

    resp = lc.browser.post(
        f"/instances/{iid}/delete",
        headers={"X-CSRFToken": lc.csrf()},
        data={"confirm_name": "blog"},
    )
    assert resp.status_code == 303
    lc.wait_for(iid, "deleted")
    assert lc.projects_named(iid) == []
    assert lc.instance(iid).deleted_at is not None
    assert [k for k, _ in lc.steps(iid)] == [
        "deploy",
        "variables",
        "domain",
        "restart",
        "stop",
        "start",
        "redeploy",
        "delete",
    ]
    assert {s for _, s in lc.steps(iid)} == {"succeeded"}


def test_a_lost_project_create_answer_still_makes_exactly_one_project(lifecycle):
    lc = lifecycle
    lc.emulator.script("lose_response", times=1, operation="ProjectCreate")
    lc.emulator.script("lose_response", times=1, operation="TemplateDeployV2")
    iid = lc.deploy("blog")
    lc.wait_for(iid, "running")
    assert len(lc.projects_named(iid)) == 1
    (project,) = lc.projects_named(iid)
    assert len(project["services"]) == 2  # the template deployed once, not twice
    assert lc.instance(iid).railway_project_id == project["id"]


def test_with_a_fifth_of_railway_calls_failing_every_instance_settles(lifecycle):
    lc = lifecycle
    lc.app.config["DEPLOY_TIMEOUT_SECONDS"] = 40
    lc.emulator.set_faults(error_rate=0.2)
    ids = [lc.deploy(f"app-{i}") for i in range(4)]
    final = lc.wait_for(ids, ("running", "failed"), timeout=90)
    assert set(final.values()) <= {"running", "failed"}
    for iid in ids:
        assert len(lc.projects_named(iid)) <= 1
        kinds = lc.steps(iid)
        assert all(status in ("succeeded", "failed") for _, status in kinds)


def test_a_crash_is_shown_and_the_customer_is_told(lifecycle):
    lc = lifecycle
    # The template's database appears (and deploys) first, then the app.
    lc.emulator.set_faults(deploy_outcomes=["SUCCESS", "CRASHED"])
    iid = lc.deploy("blog")
    lc.wait_for(iid, "crashed")
    html = lc.browser.get(f"/instances/{iid}").get_data(as_text=True)
    assert "Crashed" in html
    bell = lc.browser.get("/notifications/bell", headers=HX).get_data(as_text=True)
    assert 'data-testid="unread-count"' in bell
    assert "blog crashed" in lc.email_subjects()


def test_a_deploy_stuck_past_the_time_limit_fails_with_a_reason(lifecycle):
    lc = lifecycle
    lc.emulator.configure(deploy_seconds=600)
    lc.app.config["DEPLOY_TIMEOUT_SECONDS"] = 2
    iid = lc.deploy("slow")
    lc.wait_for(iid, "failed", timeout=30)
    inst = lc.instance(iid)
    assert "Gave up" in inst.status_reason
    assert lc.steps(iid)[0][1] == "failed"
    assert "slow failed to deploy" in lc.email_subjects()


def test_a_failed_build_fails_the_instance_with_a_log_excerpt(lifecycle):
    lc = lifecycle
    lc.emulator.set_faults(deploy_outcomes=["SUCCESS", "FAILED"])  # the database, the app
    iid = lc.deploy("broken")
    lc.wait_for(iid, "failed")
    html = lc.browser.get(f"/instances/{iid}/deployments").get_data(as_text=True)
    assert "The deployment failed on Railway." in html
    assert "Log excerpt" in html


def test_the_poll_asks_railway_about_many_instances_in_one_request(lifecycle):
    lc = lifecycle
    ids = [lc.deploy(f"batch-{i}") for i in range(5)]
    lc.wait_for(ids, "running")
    from railsaas.models import Instance

    with db.scope(SYSTEM) as s:
        for iid in ids:
            s.get(Instance, iid).next_poll_at = None
        s.query(Instance).filter(Instance.id.in_(ids)).update(
            {"next_poll_at": Instance.created_at}, synchronize_session=False
        )
    lc.emulator.clear_requests()
    lc.poll()
    log = lc.emulator.requests()
    assert log["by_operation"].get("ServiceStatuses") == 1
    assert log["total"] == 1


def test_railway_webhook_refreshes_the_named_instance_but_not_from_the_payload(lifecycle):
    lc = lifecycle
    lc.emulator.configure(deploy_seconds=600)
    iid = lc.deploy("hooked")
    project_id = wait_until(
        lambda: lc.instance(iid).railway_project_id,
        timeout=20,
        interval=0.2,
        message="the instance's Railway project",
    )
    payload = {
        "type": "Deployment.success",
        "details": {"status": "SUCCESS"},
        "resource": {"project": {"id": project_id}, "deployment": {"id": "x"}},
    }
    assert lc.browser.post("/webhooks/railway/wrong-secret", json=payload).status_code == 404
    secret = lc.app.config["RAILWAY_WEBHOOK_SECRET"]
    refreshed = []

    def note(sender=None, **_):
        if getattr(sender, "name", None) == "instances.refresh":
            refreshed.append(True)

    signals.task_postrun.connect(note, weak=False)
    try:
        resp = lc.browser.post(f"/webhooks/railway/{secret}", json=payload)
        assert resp.status_code == 200
        assert resp.json["instances"] == 1
        # The refresh the webhook queued has run (not merely: some time has passed)...
        wait_until(lambda: refreshed, timeout=20, message="the instances.refresh task to run")
    finally:
        signals.task_postrun.disconnect(note)
    assert lc.instance(iid).status != "running"  # ...and Railway says it is still building


def test_reconcile_finds_orphan_projects_and_missing_ones_and_admins_fix_them(lifecycle):
    lc = lifecycle
    import uuid

    from railsaas.instances import reconcile, steps
    from railsaas.models import User
    from tests.support import csrf_from, login_as

    iid = lc.deploy("keep")
    lc.wait_for(iid, "running")
    with lc.app.app_context():
        rc = steps.client()
        orphan = rc.create_project(f"railsaas-{uuid.uuid4()}")
        rc.delete_project(lc.instance(iid).railway_project_id)
        report = reconcile.reconcile()
    kinds = {(f["kind"], f["project_id"]) for f in report["findings"]}
    assert ("orphan_project", orphan.id) in kinds
    assert ("missing_project", lc.instance(iid).railway_project_id) in kinds

    admin = lc.factory.user()
    with db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    admin.role = "admin"
    browser = lc.app.test_client()
    login_as(lc.app, browser, admin)
    page = browser.get("/admin/instances").get_data(as_text=True)
    assert orphan.id in page
    token = csrf_from(page)
    assert (
        browser.post(
            f"/admin/instances/orphans/{orphan.id}/delete", data={"csrf_token": token}
        ).status_code
        == 303
    )
    assert (
        browser.post(
            f"/admin/instances/{iid}/fix", data={"csrf_token": token, "fix": "redeploy"}
        ).status_code
        == 303
    )
    lc.wait_for(iid, "running")
    assert len(lc.projects_named(iid)) == 1
    wait_until(
        lambda: (
            orphan.id not in [p["id"] for p in lc.emulator.state()["projects"] if not p["deleted"]]
        ),
        timeout=20,
        interval=0.3,
        message="the orphan project deleted on Railway",
    )


def test_admins_import_a_template_from_a_railway_code(lifecycle):
    lc = lifecycle
    from railsaas.models import User
    from tests.support import csrf_from, login_as

    admin = lc.factory.user()
    with db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    admin.role = "admin"
    browser = lc.app.test_client()
    login_as(lc.app, browser, admin)
    token = csrf_from(browser.get("/admin/templates/new").get_data(as_text=True))
    resp = browser.post("/admin/templates/import", data={"csrf_token": token, "code": "umami"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'value="Umami"' in html
    assert "DISABLE_TELEMETRY" in html  # proposed: optional with a default
    assert "APP_SECRET" not in html.split("variables_json")[1].split("</textarea>")[0]
    missing = browser.post(
        "/admin/templates/import", data={"csrf_token": token, "code": "no-such-template"}
    )
    assert "has no template" in missing.get_data(as_text=True)


def test_billing_suspends_resumes_and_deletes_a_workspace_on_railway(lifecycle):
    lc = lifecycle
    from railsaas.instances import lifecycle as instances

    iid = lc.deploy("paid")
    lc.wait_for(iid, "running")
    with lc.app.app_context(), db.scope(SYSTEM) as s:
        assert instances.suspend_tenant_instances(s, lc.tenant.id, "payment_failed") == 1
    wait_until(
        lambda: lc.steps(iid)[-1][1] == "succeeded",
        timeout=20,
        interval=0.2,
        message="the suspend step finished",
    )
    assert lc.steps(iid)[-1] == ("suspend", "succeeded")
    assert lc.wait_for(iid, "suspended")[iid] == "suspended"
    with lc.app.app_context(), db.scope(SYSTEM) as s:
        assert instances.resume_tenant_instances(s, lc.tenant.id) == 1
    lc.wait_for(iid, "running")
    with lc.app.app_context(), db.scope(SYSTEM) as s:
        assert instances.delete_tenant_instances(s, lc.tenant.id, "unpaid") == 1
    lc.wait_for(iid, "deleted")
    assert lc.projects_named(iid) == []


def test_admins_see_railway_through_the_server_and_never_the_token(lifecycle):
    from railsaas.models import User

    lc = lifecycle
    iid = lc.deploy("seen")
    lc.wait_for(iid, "running")
    inst = lc.instance(iid)
    admin = lc.factory.user()
    with db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    api = lc.app.test_client()
    auth = auth_header(api, admin)  # enrolled in 2FA, signed in with a code
    projects = api.get("/api/railway/projects", headers=auth)
    assert projects.status_code == 200
    mine = [p for p in projects.json["items"] if p["id"] == inst.railway_project_id]
    assert mine[0]["instance_id"] == iid
    services = api.get(f"/api/railway/services?project_id={inst.railway_project_id}", headers=auth)
    assert inst.railway_service_id in [s["id"] for s in services.json["services"]]
    deployments = api.get(
        "/api/railway/deployments",
        headers=auth,
        query_string={
            "environment_id": inst.railway_environment_id,
            "service_id": inst.railway_service_id,
        },
    )
    assert deployments.json["items"][0]["status"] == "SUCCESS"
    assert api.get("/api/railway/services?project_id=nope", headers=auth).status_code == 404
    for resp in (projects, services, deployments):
        assert lc.emulator.token not in resp.get_data(as_text=True)
