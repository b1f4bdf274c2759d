"""The admin panel: platform admins only; users, workspaces, jobs, business metrics and the
audit log render; every admin action changes what it says and writes an audit row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from railsaas.billing import usage
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import (
    AuditLog,
    JobFailure,
    OutboxMessage,
    Subscription,
    Tenant,
    UsageMetric,
    User,
)
from tests.support import csrf_from, login_as

ADMIN_PAGES = [
    "/admin/users",
    "/admin/workspaces",
    "/admin/instances",
    "/admin/jobs",
    "/admin/metrics",
    "/admin/audit",
]


@pytest.fixture
def admin_client(app, admin_user):
    client = app.test_client()
    login_as(app, client, admin_user)
    client.admin = admin_user
    return client


def csrf(client, url: str = "/admin/") -> str:
    return csrf_from(client.get(url).get_data(as_text=True))


def audit_rows(action: str, target_id=None) -> list[AuditLog]:
    with db.scope(SYSTEM) as s:
        stmt = select(AuditLog).where(AuditLog.action == action)
        if target_id is not None:
            stmt = stmt.where(AuditLog.target_id == str(target_id))
        return list(s.scalars(stmt))


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_are_forbidden_to_customers(app, client, factory, path):
    user, _ = factory.workspace()
    login_as(app, client, user)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_send_anonymous_visitors_away(app, client, path):
    if "auth.login" not in app.view_functions:
        pytest.skip("the sign-in page arrives with the accounts area")
    assert client.get(path).status_code in (302, 401)


def test_admin_actions_are_forbidden_to_customers(app, client, factory):
    user, tenant = factory.workspace()
    other, _ = factory.workspace()
    login_as(app, client, user)
    token = csrf(client, "/dashboard")
    for url, data in (
        (f"/admin/users/{other.id}/suspend", {"suspended": "1"}),
        (f"/admin/users/{user.id}/role", {"role": "admin"}),
        (f"/admin/workspaces/{tenant.id}/spend-cap", {"spend_cap": "1"}),
    ):
        assert client.post(url, data={**data, "csrf_token": token}).status_code == 403
    with db.scope(SYSTEM) as s:
        assert s.get(User, user.id).role == "user"
        assert s.get(User, other.id).is_suspended is False


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_render_for_admins(admin_client, factory, path):
    factory.workspace()
    resp = admin_client.get(path)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]


def test_admin_finds_users_and_sees_their_workspaces(admin_client, factory):
    person, tenant = factory.workspace(name="Grace Hopper", email="grace@example.com")
    factory.workspace(name="Someone Else")
    page = admin_client.get("/admin/users?q=grace").get_data(as_text=True)
    assert "grace@example.com" in page
    assert "Someone Else" not in page
    fragment = admin_client.get("/admin/users?q=grace", headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]
    detail = admin_client.get(f"/admin/users/{person.id}").get_data(as_text=True)
    assert tenant.name.replace("'", "&#39;") in detail


def test_suspending_a_user_ends_their_sessions_and_is_audited(app, admin_client, factory):
    person, _ = factory.workspace()
    victim = app.test_client()
    login_as(app, victim, person)
    assert victim.get("/dashboard").status_code == 200
    resp = admin_client.post(
        f"/admin/users/{person.id}/suspend",
        data={"suspended": "1", "csrf_token": csrf(admin_client)},
    )
    assert resp.status_code == 303
    with db.scope(SYSTEM) as s:
        assert s.get(User, person.id).is_suspended is True
    assert victim.get("/dashboard").status_code == 302  # signed out: sent to sign in
    rows = audit_rows("admin.user_update", person.id)
    assert len(rows) == 1
    row = rows[0]
    assert row.actor_user_id == admin_client.admin.id
    assert row.actor_type == "admin"
    assert row.details["fields"] == ["is_suspended"]
    assert str(row.ip) == "127.0.0.1"
    assert row.details["request_id"] == resp.headers["X-Request-ID"]
    admin_client.post(
        f"/admin/users/{person.id}/suspend",
        data={"suspended": "0", "csrf_token": csrf(admin_client)},
    )
    assert len(audit_rows("admin.user_update", person.id)) == 2


def test_making_a_user_admin_is_audited_and_admins_cannot_demote_themselves(admin_client, factory):
    person, _ = factory.workspace()
    token = csrf(admin_client)
    admin_client.post(f"/admin/users/{person.id}/role", data={"role": "admin", "csrf_token": token})
    with db.scope(SYSTEM) as s:
        assert s.get(User, person.id).role == "admin"
    assert audit_rows("admin.user_update", person.id)[0].details["fields"] == ["role"]
    me = admin_client.admin.id
    resp = admin_client.post(f"/admin/users/{me}/role", data={"role": "user", "csrf_token": token})
    assert resp.status_code == 409
    with db.scope(SYSTEM) as s:
        assert s.get(User, me).role == "admin"


def test_workspace_page_shows_plan_instances_and_spend_against_the_cap(admin_client, factory):
    plan = factory.plan(name="Starter", spend_cap_default_cents=5000)
    person, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
    inst = factory.instance(tenant, name="blog")
    with db.scope(SYSTEM) as s:  # a vCPU-month: $20 of Railway, $26 billed at 30% markup
        s.add(
            UsageMetric(
                tenant_id=tenant.id,
                instance_id=inst.id,
                metric_type="CPU_USAGE",
                value=Decimal(43200),
                unit="vCPU-minutes",
                recorded_at=datetime.now(UTC) - timedelta(minutes=1),
            )
        )
        s.flush()
        usage.rollup(s)
    page = admin_client.get(f"/admin/workspaces/{tenant.id}").get_data(as_text=True)
    assert "Starter" in page
    assert "blog" in page
    assert "$26.00" in page
    assert "$50.00" in page  # the plan's default cap
    listing = admin_client.get("/admin/workspaces").get_data(as_text=True)
    assert "$26.00" in listing


def test_setting_a_spend_cap_is_audited_and_validated(admin_client, factory):
    _, tenant = factory.workspace()
    token = csrf(admin_client)
    bad = admin_client.post(
        f"/admin/workspaces/{tenant.id}/spend-cap", data={"spend_cap": "lots", "csrf_token": token}
    )
    assert bad.status_code == 422
    admin_client.post(
        f"/admin/workspaces/{tenant.id}/spend-cap",
        data={"spend_cap": "120.50", "csrf_token": token},
    )
    with db.scope(SYSTEM) as s:
        assert s.get(Tenant, tenant.id).spend_cap_cents == 12050
    row = audit_rows("admin.workspace_spend_cap", tenant.id)[0]
    assert row.details == {
        "from_cents": None,
        "to_cents": 12050,
        "request_id": row.details["request_id"],
    }
    assert row.tenant_id == tenant.id  # the workspace sees it in its own log


def test_suspending_and_reactivating_a_workspace_is_audited(admin_client, factory):
    _, tenant = factory.workspace()
    token = csrf(admin_client)
    url = f"/admin/workspaces/{tenant.id}/status"
    assert (
        admin_client.post(
            url, data={"action": "suspend", "reason": "", "csrf_token": token}
        ).status_code
        == 422
    )
    admin_client.post(
        url, data={"action": "suspend", "reason": "fraud report", "csrf_token": token}
    )
    with db.scope(SYSTEM) as s:
        assert s.get(Tenant, tenant.id).status == "suspended"
    assert audit_rows("admin.workspace_suspend", tenant.id)[0].details["reason"] == "fraud report"
    admin_client.post(url, data={"action": "reactivate", "csrf_token": token})
    with db.scope(SYSTEM) as s:
        assert s.get(Tenant, tenant.id).status == "active"
    assert audit_rows("admin.workspace_reactivate", tenant.id)


def _failure(**kw) -> JobFailure:
    with db.scope(SYSTEM) as s:
        f = JobFailure(
            task_name="mail.deliver",
            exception_type="SMTPException",
            message="connection refused",
            args={"email_id": "abc"},
            **kw,
        )
        s.add(f)
        s.flush()
        s.refresh(f)
        return f


def test_failed_jobs_are_listed_and_retried_through_the_outbox(admin_client):
    failure = _failure()
    page = admin_client.get("/admin/jobs").get_data(as_text=True)
    assert "mail.deliver" in page
    assert "SMTPException" in page
    resp = admin_client.post(
        f"/admin/jobs/{failure.id}/retry", data={"csrf_token": csrf(admin_client)}
    )
    assert resp.status_code == 303
    with db.scope(SYSTEM) as s:
        assert s.get(JobFailure, failure.id).resolution == "retried"
        queued = s.scalars(select(OutboxMessage).where(OutboxMessage.task == "mail.deliver")).all()
        assert [m.args for m in queued] == [{"email_id": "abc"}]
    assert audit_rows("admin.job_retry", failure.id)
    again = admin_client.post(
        f"/admin/jobs/{failure.id}/retry", data={"csrf_token": csrf(admin_client)}
    )
    assert again.status_code == 409


def test_dismissing_a_failed_job_is_audited(admin_client):
    failure = _failure()
    admin_client.post(f"/admin/jobs/{failure.id}/dismiss", data={"csrf_token": csrf(admin_client)})
    with db.scope(SYSTEM) as s:
        assert s.get(JobFailure, failure.id).resolution == "dismissed"
    assert audit_rows("admin.job_dismiss", failure.id)
    assert "connection refused" not in admin_client.get("/admin/jobs").get_data(as_text=True)


def test_stuck_deployments_are_listed(admin_client, factory):
    _, tenant = factory.workspace()
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    factory.instance(tenant, name="stuck-one", status="deploying", status_changed_at=long_ago)
    factory.instance(
        tenant, name="fresh-one", status="deploying", status_changed_at=datetime.now(UTC)
    )
    page = admin_client.get("/admin/jobs").get_data(as_text=True)
    assert "stuck-one" in page
    assert "fresh-one" not in page


def test_business_metrics_page_shows_mrr_and_charts(admin_client, factory):
    plan = factory.plan(name="Pro", price_cents=2900)
    _, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.add(
            Subscription(
                tenant_id=tenant.id,
                plan_id=plan.id,
                plan_name="Pro",
                status="active",
                created_at=datetime.now(UTC) - timedelta(days=40),
            )
        )
    page = admin_client.get("/admin/metrics").get_data(as_text=True)
    assert "$29.00" in page  # MRR
    assert "$348.00" in page  # ARR
    assert page.count("<svg") >= 8
    assert "style=" not in page  # the CSP allows no inline styles


def test_audit_log_filters_by_workspace_actor_and_action(admin_client, factory):
    alice, ta = factory.workspace(email="alice@example.com")
    _, tb = factory.workspace()
    from railsaas.db import TenantContext
    from railsaas.platform import audit

    with db.scope(TenantContext(tenant_id=ta.id, user_id=alice.id)) as s:
        audit.record(s, "instance.stop", target_type="instance", target_id="i-1")
        audit.record(s, "billing.plan_change", target_type="tenant", target_id=ta.id)
    with db.scope(TenantContext(tenant_id=tb.id)) as s:
        audit.record(s, "instance.stop", target_type="instance", target_id="i-2")

    def shown(**params) -> str:
        return admin_client.get(
            "/admin/audit", query_string=params, headers={"HX-Request": "true"}
        ).get_data(as_text=True)

    assert "i-1" in shown()
    assert "i-2" in shown()
    only_a = shown(workspace=str(ta.id))
    assert "i-1" in only_a
    assert "i-2" not in only_a
    by_alice = shown(actor="alice@example.com")
    assert "billing.plan_change" in by_alice
    assert "i-2" not in by_alice
    stops = shown(action="instance.*")
    assert "i-1" in stops
    assert "i-2" in stops
    assert "billing.plan_change" not in stops
    assert "No entries match" in shown(actor="nobody@example.com")


def test_business_metrics_can_read_from_a_reporting_replica(app, committed_factory, monkeypatch):
    """REPORTING_DATABASE_URL points the metrics at another server (here: the same database
    through its own engine, as the admin login, so row-level security still applies)."""
    from railsaas.extensions import db as database

    admin, tenant = committed_factory.workspace()
    with database.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    admin.role = "admin"
    plan = committed_factory.plan(name="Replica plan", price_cents=4200)
    with database.scope(SYSTEM) as s:
        s.add(
            Subscription(
                tenant_id=tenant.id,
                plan_id=plan.id,
                plan_name=plan.name,
                status="active",
                created_at=datetime.now(UTC) - timedelta(days=3),
            )
        )
    monkeypatch.setitem(
        app.config,
        "REPORTING_DATABASE_URL",
        database.engines["admin"].url.render_as_string(hide_password=False),
    )
    client = app.test_client()
    login_as(app, client, admin)
    page = client.get("/admin/metrics").get_data(as_text=True)
    assert "$42.00" in page
    from railsaas.reporting import replica as reporting

    assert app.config["REPORTING_DATABASE_URL"] in reporting._engines  # read through it


def test_admin_filters_instances_by_status_template_and_workspace(admin_client, factory):
    _, acme = factory.workspace(name="Acme Owner")
    _, globex = factory.workspace(name="Globex Owner")
    ghost, n8n = factory.template(name="Ghost"), factory.template(name="n8n")
    factory.instance(acme, ghost, name="acme-blog")
    factory.instance(acme, n8n, name="acme-flows", status="stopped")
    factory.instance(globex, ghost, name="globex-blog")

    def names(**params) -> set[str]:
        page = admin_client.get("/admin/instances", query_string=params).get_data(as_text=True)
        return {n for n in ("acme-blog", "acme-flows", "globex-blog") if n in page}

    assert names() == {"acme-blog", "acme-flows", "globex-blog"}
    assert names(template=str(ghost.id)) == {"acme-blog", "globex-blog"}
    assert names(workspace=str(acme.id)) == {"acme-blog", "acme-flows"}
    assert names(workspace=acme.slug, status="stopped") == {"acme-flows"}
    assert names(workspace="no-such-workspace") == set()


def test_admin_acts_on_any_instance_through_the_lifecycle_and_the_workspace_sees_it(
    app, admin_client, factory
):
    from railsaas.models import Instance

    owner, tenant = factory.workspace()
    inst = factory.instance(tenant, name="their-app", status="running")
    page = admin_client.get("/admin/instances").get_data(as_text=True)
    assert 'value="stop"' in page  # the actions the instance's status allows
    resp = admin_client.post(
        f"/admin/instances/{inst.id}/action",
        data={
            "action": "stop",
            "csrf_token": csrf(admin_client),
            "back": f"/admin/instances?workspace={tenant.id}",
        },
    )
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"/admin/instances?workspace={tenant.id}")
    with db.scope(SYSTEM) as s:
        assert s.get(Instance, inst.id).status == "stopping"
    (row,) = audit_rows("instance.stop", inst.id)
    assert (row.actor_user_id, row.actor_type, row.tenant_id) == (
        admin_client.admin.id,
        "admin",
        tenant.id,
    )
    # The owner's activity feed shows it, as done by staff.
    owner_client = app.test_client()
    login_as(app, owner_client, owner)
    assert "RailSaaS staff" in owner_client.get("/activity").get_data(as_text=True)
    # A stopped instance cannot be stopped again: the lifecycle's rules hold for admins too.
    again = admin_client.post(
        f"/admin/instances/{inst.id}/action",
        data={"action": "stop", "csrf_token": csrf(admin_client)},
    )
    assert again.status_code == 409


def test_admin_instance_back_links_stay_on_the_admin_instances_page(admin_client, factory):
    _, tenant = factory.workspace()
    inst = factory.instance(tenant, status="running")
    resp = admin_client.post(
        f"/admin/instances/{inst.id}/action",
        data={
            "action": "restart",
            "csrf_token": csrf(admin_client),
            "back": "https://evil.example.com/admin/instances",
        },
    )
    assert resp.headers["Location"].endswith("/admin/instances")


def test_the_database_page_says_how_to_enable_pg_stat_statements_when_it_is_absent(admin_client):
    page = admin_client.get("/admin/database")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="pgss-unavailable"' in html
    assert "shared_preload_libraries" in html


def test_an_installed_but_unloaded_pg_stat_statements_is_reported_not_a_500(
    admin_client, owner_sql
):
    owner_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    try:
        loaded = "pg_stat_statements" in owner_sql("SHOW shared_preload_libraries")[0][0]
        page = admin_client.get("/admin/database")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        if loaded:  # a server configured for it: the table shows
            assert 'data-testid="pgss"' in html or "No statements recorded yet" in html
        else:
            assert "shared_preload_libraries" in html
            assert 'data-testid="pgss-unavailable"' in html
    finally:
        owner_sql("DROP EXTENSION IF EXISTS pg_stat_statements")


def test_customers_cannot_see_the_database_page(app, client, factory):
    user, _ = factory.workspace()
    login_as(app, client, user)
    assert client.get("/admin/database").status_code == 403
