"""The bell, the notifications page, and billing's suspend/resume of a workspace."""

from __future__ import annotations

from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.instances import lifecycle as instances
from railsaas.models import Deployment, Email, Instance, OutboxMessage
from railsaas.platform import notifications
from tests.support import csrf_from

HX = {"HX-Request": "true"}


def test_bell_shows_the_unread_count_and_the_list_marks_read(app, client, make_customer):
    customer = make_customer(client)
    with app.app_context(), db.scope(SYSTEM) as s:
        notifications.notify_tenant(s, customer.tenant.id, kind="instance.failed",
                                    title="blog failed to deploy", body="Build error",
                                    link="/instances/x", email_kind="instances/status")
        notifications.notify_tenant(s, customer.tenant.id, kind="instance.running",
                                    title="shop is running")
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
        as_text=True)
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
            status = {i.name: i.status for i in s.scalars(
                select(Instance).where(Instance.tenant_id == tenant.id))}
            assert status == {"a": "deleting", "b": "deleting", "c": "deleting",
                              "gone": "deleted"}
            kinds = sorted(d.kind for d in s.scalars(select(Deployment).where(
                Deployment.tenant_id == tenant.id)))
            assert kinds == ["delete", "delete", "delete", "stop", "stop"]
            canceled = s.scalars(select(Deployment.status).where(
                Deployment.tenant_id == tenant.id, Deployment.kind == "stop")).all()
            assert set(canceled) == {"canceled"}
    assert gone.status == "deleted"
