"""The admin's business metrics and the customer dashboard in a real browser at phone width:
charts render under the CSP without errors, and nothing forces sideways scrolling."""

from __future__ import annotations

import pytest

from devtools import seed
from devtools.seed_history import seed_business_history
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import User
from tests.support import login_as
from tests.support.browser import assert_no_horizontal_scroll

UA = "Mozilla/5.0 (RailSaaS browser test)"


def sign_in(app, page, live_server, user) -> None:
    """Put a signed-in session cookie for `user` into the browser (as the login view would,
    for this browser's address and user agent)."""
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": UA})
    login_as(app, client, user)
    cookie = client.get_cookie("session")
    page.context.add_cookies([{"name": "session", "value": cookie.value, "url": live_server}])


@pytest.fixture
def phone_as(browser, page_errors, committed):
    context = browser.new_context(viewport={"width": 375, "height": 812}, user_agent=UA)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and page_errors.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: page_errors.append(f"uncaught: {e}"))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    page_errors.check()


@pytest.fixture
def history(app, committed_factory):
    with app.app_context(), db.scope(SYSTEM) as s:
        seed.seed_plans(s)
        seed_business_history(s)
    admin, _ = committed_factory.workspace(name="Ops Admin")
    with db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    admin.role = "admin"
    return admin


def test_business_metrics_fit_a_phone_and_draw_every_chart(
    app, live_server, phone_as, shot, history
):
    sign_in(app, phone_as, live_server, history)
    phone_as.goto(live_server + "/admin/metrics")
    assert phone_as.locator("h1").inner_text() == "Business metrics"
    assert phone_as.locator("svg.svg-chart").count() >= 8
    box = phone_as.locator('[data-testid="chart-mrr"] svg').bounding_box()
    assert 300 <= box["width"] <= 375  # the chart fills the phone's width, no wider
    assert_no_horizontal_scroll(phone_as)
    shot(phone_as, "admin-metrics-phone")
    for area in ("workspaces", "users", "jobs", "audit"):
        phone_as.goto(f"{live_server}/admin/{area}")
        assert_no_horizontal_scroll(phone_as)
        shot(phone_as, f"admin-{area}-phone")


def test_customer_dashboard_fits_a_phone(app, live_server, phone_as, shot, history):
    from sqlalchemy import select

    from railsaas.models import Membership, Tenant

    with db.scope(SYSTEM) as s:
        owner = s.scalar(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Tenant.slug == "demo-history-01")
        )
    sign_in(app, phone_as, live_server, owner)
    phone_as.goto(live_server + "/dashboard")
    assert phone_as.locator('[data-testid="stat-spend"]').is_visible()
    assert_no_horizontal_scroll(phone_as)
    shot(phone_as, "dashboard-phone")
