"""The cheap common request (issue 19 §1): a polled badge answered 304 without a query while
nothing changed, the request context in two statements (none once cached: see
test_context_cache), the dashboard's figures cached until the workspace or the usage roll-up
changes. Behaviour only; timings live in
docs/benchmarks.md."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flask import request_finished
from sqlalchemy import delete, select

from railsaas import versions
from railsaas.billing import usage
from railsaas.db import SYSTEM, TenantContext, get_context, set_context
from railsaas.extensions import db
from railsaas.models import Instance, Membership, UsageMetric, User
from railsaas.reporting import dashboard as figures
from tests.support.queries import counting
from tests.support.web import signed_in

HX = {"HX-Request": "true"}


@contextlib.contextmanager
def bound_context(app):
    """The RLS context each request ran under, and the workspaces of the instances it saw."""
    seen = []

    def note(sender, response, **extra):
        seen.append((get_context(db.session), db.session.scalars(select(Instance.tenant_id)).all()))

    request_finished.connect(note, app)
    try:
        yield seen
    finally:
        request_finished.disconnect(note, app)


@pytest.fixture
def polled(app, factory):
    """A workspace whose one instance is deploying (its badge polls), signed in."""
    user, tenant = factory.workspace()
    inst = factory.instance(tenant, status="deploying")
    return user, tenant, inst, signed_in(app, user, tenant)


def _change(app, instance_id, **values) -> None:
    """A committed change to an instance, as the poller makes one (ORM, system login)."""
    with app.app_context(), db.scope(SYSTEM) as s:
        inst = s.get(Instance, instance_id)
        for name, value in values.items():
            setattr(inst, name, value)


def test_an_unchanged_badge_is_304_without_a_query(polled):
    user, tenant, inst, client = polled
    path = f"/instances/{inst.id}/status"
    first = client.get(path, headers=HX)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert {"Cookie", "HX-Request"} <= set(first.vary)

    with counting() as statements:
        again = client.get(path, headers={**HX, "If-None-Match": etag})
    assert again.status_code == 304
    assert statements == []
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert again.get_data() == b""

    # Another representation of the same URL (the whole page, not the fragment) is not it.
    assert client.get(path, headers={"If-None-Match": etag}).status_code != 304


def test_a_changed_badge_is_200_with_a_new_etag(app, polled):
    user, tenant, inst, client = polled
    path = f"/instances/{inst.id}/status"
    etag = client.get(path, headers=HX).headers["ETag"]

    _change(app, inst.id, status="failed", status_reason="Railway said no")

    changed = client.get(path, headers={**HX, "If-None-Match": etag})
    assert changed.status_code == 286  # settled: htmx stops polling
    assert "Failed" in changed.get_data(as_text=True)
    assert changed.headers["ETag"] != etag
    newer = changed.headers["ETag"]
    assert client.get(path, headers={**HX, "If-None-Match": newer}).status_code == 304


def test_a_change_to_another_instance_of_the_workspace_also_renews_the_etag(app, factory, polled):
    user, tenant, inst, client = polled
    other = factory.instance(tenant, status="deploying")
    path = f"/instances/{inst.id}/status"
    etag = client.get(path, headers=HX).headers["ETag"]
    _change(app, other.id, status="running")
    assert client.get(path, headers={**HX, "If-None-Match": etag}).status_code == 200


def test_another_workspaces_member_gets_404_not_304(app, factory, polled):
    user, tenant, inst, client = polled
    path = f"/instances/{inst.id}/status"
    etag = client.get(path, headers=HX).headers["ETag"]

    stranger, elsewhere = factory.workspace()
    theirs = signed_in(app, stranger, elsewhere)
    resp = theirs.get(path, headers={**HX, "If-None-Match": etag})
    assert resp.status_code == 404
    assert "ETag" not in resp.headers

    # Even with the session pointed at the workspace they do not belong to.
    with theirs.session_transaction() as s:
        s["tenant_id"] = str(tenant.id)
    resp = theirs.get(path, headers={**HX, "If-None-Match": etag})
    assert resp.status_code == 404


def test_a_removed_member_or_a_suspended_user_gets_no_more_304s(app, factory, polled):
    user, tenant, inst, client = polled
    path = f"/instances/{inst.id}/status"
    etag = client.get(path, headers=HX).headers["ETag"]

    colleague = factory.user()
    factory.member(tenant, colleague, "member")
    theirs = signed_in(app, colleague, tenant)
    their_etag = theirs.get(path, headers=HX).headers["ETag"]
    assert their_etag != etag  # per user, never shared
    with app.app_context(), db.scope(SYSTEM) as s:
        s.execute(delete(Membership).where(Membership.user_id == colleague.id))
        versions.touch_workspace(s, tenant.id)  # a bulk DELETE: no ORM event
    assert theirs.get(path, headers={**HX, "If-None-Match": their_etag}).status_code == 404

    with app.app_context(), db.scope(SYSTEM) as s:
        s.get(User, user.id).is_suspended = True
    resp = client.get(path, headers={**HX, "If-None-Match": etag})
    assert resp.status_code != 304


def test_a_session_from_another_browser_gets_no_304(app, polled):
    """flask-login's strong session protection refuses a cookie moved to another browser;
    the shortcut refuses it too."""
    user, tenant, inst, client = polled
    path = f"/instances/{inst.id}/status"
    etag = client.get(path, headers=HX).headers["ETag"]
    moved = client.get(
        path, headers={**HX, "If-None-Match": etag, "User-Agent": "another browser/1.0"}
    )
    assert moved.status_code != 304


def test_the_request_context_is_two_statements_and_sets_rls_for_the_named_workspace(
    app, factory, polled
):
    user, tenant, inst, client = polled
    with counting() as statements:
        assert client.get(f"/instances/{inst.id}/status", headers=HX).status_code == 200
    assert statements[0].lstrip().startswith("SELECT set_config('app.tenant_id'")
    assert "FROM users" in statements[1]
    assert "memberships" in statements[1]
    assert "instances" in statements[2]
    assert len(statements) == 3  # settings, user + membership + workspace, the instance


def test_a_session_naming_a_workspace_the_user_left_falls_back_to_their_own(app, factory, polled):
    user, tenant, inst, client = polled
    stranger, elsewhere = factory.workspace()
    with client.session_transaction() as s:
        s["tenant_id"] = str(elsewhere.id)
    resp = client.get("/dashboard")
    assert resp.status_code == 200
    with client.session_transaction() as s:
        assert s["tenant_id"] == str(tenant.id)

    # The context bound for that request: the user's own workspace, on the web login.
    with client.session_transaction() as s:
        s["tenant_id"] = str(elsewhere.id)
    with bound_context(app) as seen:
        assert client.get(f"/instances/{inst.id}/status", headers=HX).status_code == 200
    ctx, visible = seen[0]
    assert (ctx.tenant_id, ctx.user_id, ctx.role) == (tenant.id, user.id, "")
    assert visible == [tenant.id]


def test_an_admin_on_admin_pages_acts_as_the_admin_login(app, factory):
    admin, tenant = factory.workspace()
    with app.app_context(), db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    client = signed_in(app, admin, tenant)
    with bound_context(app) as seen:
        client.get("/admin/")
        client.get("/dashboard")
    assert seen[0][0].role == "platform_admin"
    assert seen[1][0].role == ""  # elsewhere, their own workspaces like anyone


# --- the dashboard's cached figures ---------------------------------------------------------


def _usage(app, tenant, inst, cents: Decimal) -> None:
    """Usage reported for `inst` an hour ago, then rolled up (the hourly task's work)."""
    with app.app_context(), db.scope(SYSTEM) as s:
        s.add(
            UsageMetric(
                tenant_id=tenant.id,
                instance_id=inst.id,
                metric_type="CPU_USAGE",
                value=cents / usage.RAILWAY_CENTS_PER_UNIT["CPU_USAGE"],
                unit="vCPU-minutes",
                recorded_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )
    with app.app_context(), db.scope(SYSTEM) as s:
        usage.rollup(s)


def test_dashboard_figures_are_cached_until_instances_or_usage_change(app, factory):
    user, tenant = factory.workspace()
    inst = factory.instance(tenant, status="running")
    as_owner = TenantContext(tenant_id=tenant.id, user_id=user.id)
    with app.app_context():
        set_context(db.session, as_owner)
        first, chart = figures.cached_overview(db.session, tenant, 0)
        assert (first.running, first.spend_cents) == (1, 0)
        db.session.close()
        set_context(db.session, as_owner)
        with counting() as statements:
            again, again_chart = figures.cached_overview(db.session, tenant, 0)
        assert statements == []
        assert (again.running, again.live, again.spend_cents) == (1, 1, 0)
        assert str(again_chart) == str(chart)
        db.session.close()

    factory.instance(tenant, status="running")  # outside the app: bumps nothing itself
    _change(app, inst.id, name="renamed")  # ... a change through the app does
    with app.app_context():
        set_context(db.session, as_owner)
        assert figures.cached_overview(db.session, tenant, 0)[0].running == 2
        db.session.close()

    _usage(app, tenant, inst, Decimal(250))
    with app.app_context():
        set_context(db.session, as_owner)
        after, chart = figures.cached_overview(db.session, tenant, 0)
        assert after.spend_cents == 250
        assert "renamed" in str(chart)
        db.session.close()


def test_dashboard_fragment_is_conditional_and_renews_after_a_rollup(app, factory):
    user, tenant = factory.workspace()
    inst = factory.instance(tenant, status="running")
    client = signed_in(app, user, tenant)
    etag = client.get("/dashboard", headers=HX).headers["ETag"]
    with counting() as statements:
        assert client.get("/dashboard", headers={**HX, "If-None-Match": etag}).status_code == 304
    assert statements == []
    # The whole page carries forms and flashes: never answered from the browser's copy.
    page = client.get("/dashboard", headers={"If-None-Match": etag})
    assert page.status_code == 200
    assert "ETag" not in page.headers

    _usage(app, tenant, inst, Decimal(100))
    resp = client.get("/dashboard", headers={**HX, "If-None-Match": etag})
    assert resp.status_code == 200
    assert resp.headers["ETag"] != etag


def test_without_redis_tokens_the_badge_is_served_in_full(app, polled, monkeypatch):
    """Redis down: no 304 and no ETag, the full answer (never an error)."""
    user, tenant, inst, client = polled
    path = f"/instances/{inst.id}/status"
    etag = client.get(path, headers=HX).headers["ETag"]
    monkeypatch.setitem(app.config, "CACHE_REDIS_URL", "redis://127.0.0.1:9/0")
    resp = client.get(path, headers={**HX, "If-None-Match": etag})
    assert resp.status_code == 200
    assert "ETag" not in resp.headers


def test_the_dashboard_draws_its_overview_once_until_something_changes(app, factory):
    user, tenant = factory.workspace()
    inst = factory.instance(tenant, status="running")
    client = signed_in(app, user, tenant)
    assert client.get("/dashboard").status_code == 200
    with counting() as statements:
        page = client.get("/dashboard")
    assert page.status_code == 200
    # The request context from the cache (railsaas.context_cache), the overview drawn.
    assert statements == []
    assert 'data-testid="stat-running"' in page.get_data(as_text=True)

    _change(app, inst.id, status="stopped")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "<strong>0</strong>" in page.split('data-testid="stat-running"')[1]
