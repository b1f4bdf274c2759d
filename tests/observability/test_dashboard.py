"""The customer dashboard: stat cards, the usage chart and recent activity of the selected
workspace only, as a page or an HTMX fragment, in a bounded number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from railsaas.billing import usage
from railsaas.db import SYSTEM, TenantContext
from railsaas.extensions import db
from railsaas.models import Deployment, Tenant, UsageMetric
from railsaas.platform import audit
from tests.support import login_as
from tests.support.queries import counting


def populate(factory, tenant, user, n: int, prefix: str = "site") -> None:
    """n instances with usage today, a deploy each and an audit row each."""
    template = factory.template(name="Ghost")
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        inst = factory.instance(tenant, template, name=f"{prefix}-{i}", status="running")
        rows.append(
            UsageMetric(
                tenant_id=tenant.id,
                instance_id=inst.id,
                metric_type="MEMORY_USAGE_GB",
                value=Decimal(4320),
                unit="GB-minutes",
                recorded_at=now - timedelta(minutes=5),
            )
        )
        rows.append(
            Deployment(tenant_id=tenant.id, instance_id=inst.id, kind="deploy", status="success")
        )
    with db.scope(SYSTEM) as s:
        s.add_all(rows)
        s.flush()
        usage.rollup(s)
    with db.scope(TenantContext(tenant_id=tenant.id, user_id=user.id)) as s:
        for i in range(n):
            audit.record(s, "instance.create", target_type="instance", target_id=f"{prefix}-{i}")


def test_dashboard_shows_counts_spend_against_cap_chart_and_activity(app, client, factory):
    plan = factory.plan(spend_cap_default_cents=1000)
    user, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
    populate(factory, tenant, user, 2)
    factory.instance(tenant, status="stopped")
    login_as(app, client, user)
    page = client.get("/dashboard").get_data(as_text=True)
    running = page.split('data-testid="stat-running"')[1].split("</article>")[0]
    assert "<strong>2</strong>" in running
    assert "3 in all" in running
    assert "<strong>2</strong>" in page.split('data-testid="stat-deploys"')[1]
    # 2 x 4320 GB-minutes of memory = $2.00 of Railway, $2.60 billed, against a $10 cap.
    spend = page.split('data-testid="stat-spend"')[1].split("</article>")[0]
    assert "$2.60" in spend
    assert "$10.00" in spend
    assert "<svg" in page.split('data-testid="usage-chart"')[1]
    assert "site-0" in page
    assert "site-1" in page
    assert "Instance create" in page
    assert "style=" not in page  # CSP: no inline styles


def test_dashboard_shows_only_the_selected_workspace(app, client, factory):
    user, tenant = factory.workspace()
    other_user, other = factory.workspace()
    populate(factory, other, other_user, 1)
    login_as(app, client, user)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "site-0" not in page
    assert "Nothing has happened" in page
    assert "<strong>0</strong>" in page.split('data-testid="stat-running"')[1]


def test_dashboard_is_an_htmx_fragment_when_asked(app, client, factory):
    user, tenant = factory.workspace()
    login_as(app, client, user)
    resp = client.get("/dashboard", headers={"HX-Request": "true"})
    body = resp.get_data(as_text=True)
    assert "<html" not in body
    assert 'data-testid="stat-spend"' in body
    assert "HX-Request" in resp.headers["Vary"]


def test_dashboard_runs_a_bounded_number_of_queries(app, client, factory, redis_conn):
    """Drawn afresh (nothing cached: the factory's rows bump no version token)."""
    user, tenant = factory.workspace()
    login_as(app, client, user)
    populate(factory, tenant, user, 1)
    client.get("/dashboard")  # the first page writes the workspace into the session
    redis_conn.forget_cached_pages()
    with counting() as few:
        assert client.get("/dashboard").status_code == 200
    populate(factory, tenant, user, 15, prefix="more")
    redis_conn.forget_cached_pages()
    with counting() as many:
        assert client.get("/dashboard").status_code == 200
    assert len(many) == len(few), "\n".join(many)
    assert len(many) <= 15, "\n".join(many)


def test_activity_page_lists_the_workspace_log_newest_first_with_paging(app, client, factory):
    user, tenant = factory.workspace()
    with db.scope(TenantContext(tenant_id=tenant.id, user_id=user.id)) as s:
        for i in range(30):
            audit.record(s, "instance.rename", target_type="instance", target_id=f"n{i}")
    login_as(app, client, user)
    page = client.get("/activity").get_data(as_text=True)
    assert page.count("Instance rename") == 25
    assert "Older" in page
    assert "127.0.0.1" not in page  # audit rows written outside a request have no IP
