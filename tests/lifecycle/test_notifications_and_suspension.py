"""The bell, the notifications page, and billing's suspend/resume of a workspace."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from railsaas.billing import dunning, spend_caps
from railsaas.db import SYSTEM
from railsaas.errors import LimitExceeded
from railsaas.extensions import db
from railsaas.instances import lifecycle as instances
from railsaas.models import Deployment, Email, Instance, OutboxMessage, Tenant
from railsaas.platform import notifications
from tests.support import csrf_from

HX = {"HX-Request": "true"}


def test_bell_shows_the_unread_count_and_the_list_marks_read(app, client, make_customer):
    customer = make_customer(client)
    with app.app_context(), db.scope(SYSTEM) as s:
        notifications.notify_tenant(
            s,
            customer.tenant.id,
            kind="instance.failed",
            title="blog failed to deploy",
            body="Build error",
            link="/instances/x",
            email_kind="instances/status",
        )
        notifications.notify_tenant(
            s, customer.tenant.id, kind="instance.running", title="shop is running"
        )
    bell = client.get("/notifications/bell", headers=HX)
    assert bell.status_code == 200
    html = bell.get_data(as_text=True)
    assert html.lstrip().startswith('<li id="notification-bell"')
    assert 'data-testid="unread-count">2<' in html
    page = client.get("/notifications/").get_data(as_text=True)
    assert "blog failed to deploy" in page
    assert "Build error" in page
    client.post("/notifications/read", data={"csrf_token": csrf_from(page)})
    assert "unread-count" not in client.get("/notifications/bell", headers=HX).get_data(
        as_text=True
    )
    with db.scope(SYSTEM) as s:
        mails = s.scalars(select(Email).where(Email.tenant_id == customer.tenant.id)).all()
        assert [m.subject for m in mails] == ["blog failed to deploy"]
        assert mails[0].to_address == customer.user.email
        assert "Build error" in mails[0].text_body


def test_notifications_are_per_person_and_per_workspace(app, client, make_customer):
    customer = make_customer(client)
    other = app.test_client()
    stranger = make_customer(other)
    with app.app_context(), db.scope(SYSTEM) as s:
        notifications.notify_tenant(s, customer.tenant.id, kind="x", title="for the owner")
    assert "for the owner" not in other.get("/notifications/").get_data(as_text=True)
    assert "unread-count" not in other.get("/notifications/bell").get_data(as_text=True)
    assert stranger.tenant.id != customer.tenant.id


def test_suspend_stops_live_instances_and_resume_starts_only_those(app, factory, ghost):
    user, tenant = factory.workspace()
    running = factory.instance(tenant, ghost, name="a", status="running")
    crashed = factory.instance(tenant, ghost, name="b", status="crashed")
    stopped = factory.instance(tenant, ghost, name="c", status="stopped")
    other_user, other_tenant = factory.workspace()
    elsewhere = factory.instance(other_tenant, ghost, name="d", status="running")
    with app.app_context():
        with db.scope(SYSTEM) as s:
            assert instances.suspend_tenant_instances(s, tenant.id, "spend_cap") == 2
        with db.scope(SYSTEM) as s:
            status = {i.name: (i.status, i.status_reason) for i in s.scalars(select(Instance))}
            assert status["a"] == ("suspended", "spend_cap")
            assert status["b"] == ("suspended", "spend_cap")
            assert status["c"][0] == "stopped"
            assert status["d"][0] == "running"
            kinds = sorted((d.instance_id, d.kind) for d in s.scalars(select(Deployment)))
            assert kinds == sorted([(running.id, "suspend"), (crashed.id, "suspend")])
            tasks = s.scalars(select(OutboxMessage.task)).all()
            assert tasks.count("instances.run_step") == 2
        with db.scope(SYSTEM) as s:
            assert instances.resume_tenant_instances(s, tenant.id) == 2
        with db.scope(SYSTEM) as s:
            assert s.get(Instance, running.id).status == "starting"
            assert s.get(Instance, stopped.id).status == "stopped"
            assert s.get(Instance, elsewhere.id).status == "running"
            assert s.get(Instance, running.id).status_reason == "resumed"


def test_billing_stops_picked_instances_and_deletes_a_whole_workspace(app, factory, ghost):
    _, tenant = factory.workspace()
    a = factory.instance(tenant, ghost, name="a", status="running")
    b = factory.instance(tenant, ghost, name="b", status="deploying")
    c = factory.instance(tenant, ghost, name="c", status="running")
    gone = factory.instance(tenant, ghost, name="gone", status="deleted")
    with app.app_context():
        with db.scope(SYSTEM) as s:
            assert instances.stop_instances(s, tenant.id, [a.id, b.id], "plan_limit") == 2
        with db.scope(SYSTEM) as s:
            assert s.get(Instance, a.id).status == "stopping"
            assert s.get(Instance, b.id).status == "stopping"
            assert s.get(Instance, c.id).status == "running"
        with db.scope(SYSTEM) as s:
            assert instances.delete_tenant_instances(s, tenant.id, "unpaid") == 3
        with db.scope(SYSTEM) as s:
            status = {
                i.name: i.status
                for i in s.scalars(select(Instance).where(Instance.tenant_id == tenant.id))
            }
            assert status == {"a": "deleting", "b": "deleting", "c": "deleting", "gone": "deleted"}
            kinds = sorted(
                d.kind
                for d in s.scalars(select(Deployment).where(Deployment.tenant_id == tenant.id))
            )
            assert kinds == ["delete", "delete", "delete", "stop", "stop"]
            canceled = s.scalars(
                select(Deployment.status).where(
                    Deployment.tenant_id == tenant.id, Deployment.kind == "stop"
                )
            ).all()
            assert set(canceled) == {"canceled"}
    assert gone.status == "deleted"


# --- the billing hold: nothing runs, whatever the instance's status ---------------------------

OWNER = SimpleNamespace(role="owner")
HOLDS = {
    "admin": {"status": "suspended"},
    "spend_cap": {"spend_cap_state": "capped", "spend_cap_cents": 0},  # spent it all
    "unpaid": {"dunning_stage": "suspended", "payment_failed_at": datetime(2026, 1, 1, tzinfo=UTC)},
}
RUNS = [
    ("failed", "redeploy"),
    ("crashed", "redeploy"),
    ("crashed", "restart"),
    ("running", "restart"),
    ("stopped", "start"),
    ("failed", "variables"),
    ("stopped", "variables"),
    ("running", "domain"),
]


def _held(factory, hold: str):
    plan = factory.plan(max_instances=10)
    _, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        row = s.get(Tenant, tenant.id)
        row.plan_id = plan.id
        for field, value in HOLDS[hold].items():
            setattr(row, field, value)
    return tenant


def _act(s, tenant, inst, action):
    if action == "variables":
        return instances.update_variables(
            s, tenant.id, inst.id, {"SITE_TITLE": "New"}, None, actor=OWNER
        )
    if action == "domain":
        return instances.add_custom_domain(
            s, tenant.id, inst.id, "app.example.com", None, actor=OWNER
        )
    return instances.request_action(s, tenant.id, inst.id, action, None, actor=OWNER)


@pytest.mark.parametrize("hold", sorted(HOLDS))
@pytest.mark.parametrize(("status", "action"), RUNS)
def test_a_held_workspace_runs_nothing_whatever_the_status(
    app, factory, ghost, hold, status, action
):
    tenant = _held(factory, hold)
    inst = factory.instance(
        tenant, ghost, status=status, config={"ADMIN_EMAIL": "a@example.com", "SITE_TITLE": "Old"}
    )
    with app.app_context():
        with pytest.raises(LimitExceeded), db.scope(SYSTEM) as s:
            _act(s, tenant, inst, action)
        with db.scope(SYSTEM) as s:
            after = s.get(Instance, inst.id)
            assert (after.status, after.config["SITE_TITLE"], after.custom_domain) == (
                status,
                "Old",
                None,
            )
            assert (
                s.scalars(select(Deployment).where(Deployment.instance_id == inst.id)).all() == []
            )


def test_the_same_actions_run_once_the_hold_lifts(app, factory, ghost):
    tenant = _held(factory, "spend_cap")
    failed = factory.instance(tenant, ghost, status="failed")
    with app.app_context():
        with db.scope(SYSTEM) as s:
            s.get(Tenant, tenant.id).spend_cap_state = "ok"
        with db.scope(SYSTEM) as s:
            assert _act(s, tenant, failed, "redeploy").status == "redeploying"


def test_a_suspension_takes_failed_instances_too(app, factory, ghost):
    _, tenant = factory.workspace()
    failed = factory.instance(tenant, ghost, status="failed")
    with app.app_context():
        with db.scope(SYSTEM) as s:
            assert instances.suspend_tenant_instances(s, tenant.id, "spend_cap") == 1
        with db.scope(SYSTEM) as s:
            assert s.get(Instance, failed.id).status == "suspended"


@pytest.mark.parametrize("hold", sorted(HOLDS))
def test_an_instance_that_escaped_the_hold_is_suspended_at_the_next_evaluation(
    app, factory, ghost, hold
):
    """Started between two evaluations (a race, or a path that missed the check): the
    next sweep stops it, though the hold itself did not change."""
    tenant = _held(factory, hold)
    escaped = factory.instance(tenant, ghost, status="starting")
    _, free = factory.workspace()
    bystander = factory.instance(free, ghost, status="running")
    with app.app_context():
        with db.scope(SYSTEM) as s:
            spend_caps.enforce_all(s, datetime.now(UTC))
        with db.scope(SYSTEM) as s:
            assert s.get(Instance, escaped.id).status == "suspended"
            assert s.get(Instance, bystander.id).status == "running"


def test_dunning_suspends_what_escaped_on_each_run(app, factory, ghost):
    tenant = _held(factory, "unpaid")
    escaped = factory.instance(tenant, ghost, status="failed")
    with app.app_context():
        with db.scope(SYSTEM) as s:
            row = s.get(Tenant, tenant.id)
            assert dunning.advance(s, row, datetime(2026, 1, 2, tzinfo=UTC)) == []
        with db.scope(SYSTEM) as s:
            assert s.get(Instance, escaped.id).status == "suspended"
