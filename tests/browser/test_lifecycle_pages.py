"""A customer deploys a template and watches it reach running without reloading, reads its
logs, changes a variable and deletes it: in Chromium, against the Railway emulator, with a
real Celery worker (the poll is driven by a thread here: beat does not run in tests)."""

from __future__ import annotations

import threading

import pytest

from tests.support import wait_until
from tests.support.browser import assert_no_horizontal_scroll


def _sign_in(page, live_server, user) -> None:
    from tests.support import DEFAULT_PASSWORD

    page.goto(live_server + "/login")
    page.fill("#email", user.email)
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("form >> text=Log in")
    page.wait_for_url("**/dashboard")


@pytest.fixture
def poller(app):
    from railsaas.instances import poll

    stop = threading.Event()

    def run():
        while not stop.is_set():
            with app.app_context():
                try:
                    poll.poll()
                except Exception:  # noqa: S112 - a test helper; the next round tries again
                    continue
            stop.wait(0.4)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


def test_deploy_watch_logs_variables_and_delete_in_the_browser(
    app,
    live_server,
    browser,
    page_errors,
    shot,
    celery_worker,
    committed_factory,
    railway_emulator,
    poller,
):
    from railsaas.db import SYSTEM
    from railsaas.extensions import db
    from railsaas.models import Tenant
    from tests.support.lifecycle import railway_template

    railway_emulator.configure(
        deploy_seconds=2.0, deploy_jitter=0.0, workflow_seconds=0.3, log_interval=0.2
    )
    plan = committed_factory.plan()
    user, tenant = committed_factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
    railway_template(railway_emulator, committed_factory, "ghost")

    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and page_errors.append(m.text))
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.set_default_timeout(20_000)
    _sign_in(page, live_server, user)
    page.click("[data-testid=menu-toggle]")  # on a phone the links are behind Menu
    page.get_by_role("link", name="Templates").click()
    assert_no_horizontal_scroll(page)
    shot(page, "catalog")

    page.get_by_role("button", name="Deploy").first.click()
    dialog = page.locator("dialog[data-modal]")
    dialog.wait_for()
    shot(page, "deploy-dialog")
    dialog.locator('input[name="name"]').fill("Bad Name")
    dialog.get_by_role("button", name="Deploy").click()
    page.locator(".field-error").wait_for()
    dialog.locator('input[name="name"]').fill("my-blog")
    dialog.get_by_role("button", name="Deploy").click()
    page.wait_for_url("**/instances/*")
    badge = page.locator("h1 + [data-testid=status]")
    badge.filter(has_text="Running").wait_for(timeout=60_000)  # no reload: the badge polls
    assert_no_horizontal_scroll(page)
    shot(page, "running")

    page.get_by_role("link", name="Logs").click()
    page.locator(".log-line").first.wait_for()
    shot(page, "logs")
    railway_emulator.advance(900)  # a quarter of an hour of running: something to chart
    page.get_by_role("link", name="Metrics").click()
    page.locator("[data-testid=chart] svg path.chart-line").first.wait_for()
    assert page.locator(".tabs a[aria-current=page]").inner_text() == "Metrics"
    shot(page, "metrics")

    page.get_by_role("link", name="Variables").click()
    page.locator('input[name="variables.mail__from"]').fill("blog@example.com")
    page.get_by_role("button", name="Save and redeploy").click()
    page.wait_for_url("**/instances/*")
    badge.filter(has_text="Running").wait_for(timeout=60_000)

    page.get_by_role("link", name="Settings").click()
    confirm = page.locator('input[name="confirm_name"]')
    confirm.fill("my-blog")
    page.get_by_role("button", name="Delete my-blog").click()
    page.wait_for_url("**/instances/")
    shot(page, "after-delete")
    wait_until(
        lambda: not [p for p in railway_emulator.state()["projects"] if not p["deleted"]],
        timeout=30,
        interval=0.3,
        message="the Railway project deleted",
    )
    context.close()
    page_errors.check()
