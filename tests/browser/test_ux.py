"""The customer's experience in Chromium: errors after a click are shown, never swallowed
(a 402 over the plan limit, a 409, the network gone); one confirm dialog; a compact header
with a menu on a phone; and a visual review of every main page at 375 px and 1280 px (no
horizontal scroll, no overlapping text in the header), with screenshots under artifacts/."""

from __future__ import annotations

import re

import pytest

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Instance, Tenant, User
from tests.support import login_as
from tests.support.browser import stub_outside_images

UA = "Mozilla/5.0 (RailSaaS browser test)"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def open_page(browser, page_errors, committed):
    """open_page(viewport, user=None): a fresh browser context, signed in as `user`."""
    contexts = []

    def make(viewport, app=None, live_server=None, user=None):
        context = browser.new_context(viewport=viewport, user_agent=UA)
        stub_outside_images(context)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and page_errors.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: page_errors.append(f"uncaught: {e}"))
        page.set_default_timeout(15_000)
        if user is not None:
            client = app.test_client()
            client.environ_base.update({"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": UA})
            login_as(app, client, user)
            cookie = client.get_cookie("session")
            context.add_cookies([{"name": "session", "value": cookie.value, "url": live_server}])
        return page

    yield make
    for context in contexts:
        context.close()
    page_errors.check()


@pytest.fixture
def world(committed_factory):
    """An owner (also a platform admin) on a one-instance plan: one app running, one stopped,
    a template with an https logo and one without."""
    f = committed_factory
    plan = f.plan(name="Hobby", max_instances=1)
    owner, tenant = f.workspace(name="Olive Owner")
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
        s.get(User, owner.id).role = "admin"
    ghost = f.template(
        name="Ghost", category="cms", icon="https://devicons.railway.com/i/ghost.svg"
    )
    f.template(name="Uptime Kuma", category="monitoring", icon=None)
    running = f.instance(tenant, ghost, name="my-blog", status="running")
    stopped = f.instance(tenant, ghost, name="old-blog", status="stopped")
    return {
        "owner": owner,
        "tenant": tenant,
        "ghost": ghost,
        "running": running,
        "stopped": stopped,
    }


def _expected(page_errors, pattern: str) -> None:
    """The console reports a failed request (the browser's own line and htmx's): expected
    here, where the failure is the subject; anything else still fails the test."""
    page_errors[:] = [e for e in page_errors if not re.search(pattern, e)]


def _error_beside(page, testid: str) -> str:
    box = page.locator(f"[data-testid={testid}]").locator(
        "xpath=ancestor::form[1]/following-sibling::*[@data-htmx-error][1]"
    )
    box.wait_for()
    assert box.get_attribute("role") == "alert"
    return box.inner_text()


def test_start_over_the_plan_limit_shows_the_402_message_where_it_was_clicked(
    app, live_server, open_page, world, shot, page_errors
):
    page = open_page(DESKTOP, app, live_server, world["owner"])
    page.goto(f"{live_server}/instances/{world['stopped'].id}")
    page.click("[data-testid=action-start]")
    message = _error_beside(page, "action-start")
    assert "The Hobby plan runs up to 1 instances at a time" in message
    shot(page, "start-over-limit-402")
    _expected(page_errors, r"status of 402|Error Code 402")
    with db.scope(SYSTEM) as s:  # and nothing started
        assert s.get(Instance, world["stopped"].id).status == "stopped"


def test_a_conflict_after_a_confirmed_stop_is_shown_and_a_cancelled_one_sends_nothing(
    app, live_server, open_page, world, shot, page_errors
):
    page = open_page(PHONE, app, live_server, world["owner"])
    page.goto(f"{live_server}/instances/{world['running'].id}")
    requests = []
    page.on("request", lambda r: r.method == "POST" and requests.append(r.url))

    # Cancel: the dialog closes and nothing is posted.
    page.click("[data-testid=action-stop]")
    dialog = page.locator("dialog.confirm-dialog[open]")
    dialog.wait_for()
    assert "Stop my-blog?" in dialog.inner_text()
    shot(page, "confirm-dialog")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert requests == []

    # Meanwhile the instance stopped elsewhere: stopping it again is a 409, said in words.
    with db.scope(SYSTEM) as s:
        s.get(Instance, world["running"].id).status = "stopped"
    page.click("[data-testid=action-stop]")
    page.click("[data-testid=confirm-ok]")
    message = _error_beside(page, "action-stop")
    assert len(requests) == 1
    assert re.search(r"stop|stopped", message, re.I), message
    assert "Something went wrong" not in message  # the server's own words
    shot(page, "conflict-409")
    _expected(page_errors, r"status of 409|Error Code 409")


def test_a_lost_network_is_said_too(app, live_server, open_page, world, page_errors):
    page = open_page(DESKTOP, app, live_server, world["owner"])
    page.goto(f"{live_server}/instances/{world['stopped'].id}")
    page.context.set_offline(True)
    page.click("[data-testid=action-start]")
    assert "Could not reach the server" in _error_beside(page, "action-start")
    page.context.set_offline(False)
    _expected(page_errors, r"ERR_INTERNET_DISCONNECTED|htmx:sendError|htmx:afterRequest")


def test_a_failed_htmx_request_gets_a_message_fragment_not_a_page(app, world):
    """The server's side of it: an htmx request that fails gets the short fragment app.js
    reads, not a whole error page (which htmx would throw away)."""
    client = app.test_client()
    login_as(app, client, world["owner"])
    resp = client.post(
        f"/instances/{world['stopped'].id}/actions/start",
        headers={"HX-Request": "true"},
        data={"csrf_token": "wrong"},
    )
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert "data-error-message" in body
    assert "<html" not in body
    assert "HX-Request" in resp.headers["Vary"]


def _header_overlaps(page) -> list[str]:
    """Pairs of visible header items whose boxes overlap."""
    return page.evaluate(
        """() => {
        const items = [...document.querySelectorAll(
          '.site-header a, .site-header button, .site-header summary, .site-header .workspace-name'
        )].filter((el) => el.getClientRects().length);
        const boxes = items.map((el) => [el, el.getBoundingClientRect()]);
        const out = [];
        for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
          const [a, ra] = boxes[i], [b, rb] = boxes[j];
          if (a.contains(b) || b.contains(a)) continue;
          const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
          const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
          if (x > 1 && y > 1) out.push(`${a.textContent.trim()} / ${b.textContent.trim()}`);
        }
        return out;
      }"""
    )


def _review(page, shot, name: str) -> None:
    width = page.viewport_size["width"]
    shot(page, f"{name}-{width}")  # first, so a failing page is on file too
    scroll = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert scroll <= width, f"{name} at {width}px scrolls sideways ({scroll}px)"
    assert _header_overlaps(page) == [], name
    # Nothing failed silently while the page loaded its parts.
    assert page.locator("[data-testid=toast], [data-testid=htmx-error]").count() == 0, name


def test_the_phone_header_is_compact_with_a_menu_and_the_switcher_and_bell_in_reach(
    app, live_server, open_page, world, shot
):
    page = open_page(PHONE, app, live_server, world["owner"])
    page.goto(live_server + "/dashboard")
    page.locator("[data-testid=workspace-switcher]").wait_for()
    header = page.locator(".site-header").bounding_box()
    assert header["height"] <= 120, header  # two slim rows, not six lines of links
    assert page.locator("[data-testid=bell]").is_visible()
    assert page.locator("[data-testid=workspace-switcher] summary").is_visible()
    assert not page.get_by_role("link", name="Billing").is_visible()
    toggle = page.locator("[data-testid=menu-toggle]")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    page.get_by_role("link", name="Billing").wait_for()
    assert _header_overlaps(page) == []
    shot(page, "menu-open")
    page.get_by_role("link", name="Billing").click()
    page.wait_for_url("**/billing")
    # At desktop width there is no Menu button: the links are in the one row.
    wide = open_page(DESKTOP, app, live_server, world["owner"])
    wide.goto(live_server + "/dashboard")
    assert not wide.locator("[data-testid=menu-toggle]").is_visible()
    assert wide.get_by_role("link", name="Billing").is_visible()
    assert wide.locator(".site-header").bounding_box()["height"] <= 90


def test_the_first_dashboard_leads_to_the_catalog(app, live_server, open_page, committed_factory):
    newcomer, _ = committed_factory.workspace(name="Nina New")
    page = open_page(PHONE, app, live_server, newcomer)
    page.goto(live_server + "/dashboard")
    first = page.locator("[data-testid=first-app]")
    assert "Deploy your first app" in first.inner_text()
    first.get_by_role("button", name="Browse the catalog").click()
    page.wait_for_url("**/templates/")
    page.goto(live_server + "/billing/invoices")
    assert "No invoices yet" in page.locator("[data-testid=no-invoices]").inner_text()
    page.goto(live_server + "/instances/")
    assert page.locator("[data-testid=no-instances] a").count() == 1


VISITOR_PAGES = ["/", "/pricing", "/login", "/register", "/templates/", "{template}"]
SIGNED_IN_PAGES = [
    "/dashboard",
    "/templates/",
    "{template}",
    "/instances/",
    "{instance}",
    "/billing",
    "/billing/invoices",
    "/members",
    "/workspace/settings",
    "/account/tokens",
    "/account",
    "/notifications/",
    "/activity",
    "/admin/",
    "/admin/templates",
    "/admin/users",
    "/admin/workspaces",
    "/admin/instances",
    "/admin/plans",
    "/admin/audit",
    "/admin/jobs",
    "/admin/metrics",
]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375px", "1280px"])
def test_visual_review_of_every_main_page(
    app, live_server, open_page, world, shot, viewport, stripe_emulator, railway_emulator
):
    names = {
        "{template}": f"/templates/{world['ghost'].id}",
        "{instance}": f"/instances/{world['running'].id}",
    }

    def review(page, paths, who):
        for path in paths:
            url = names.get(path, path)
            response = page.goto(live_server + url)
            assert response.status == 200, url
            page.wait_for_load_state("networkidle")
            label = who + (re.sub(r"[^a-z]+", "-", path.strip("/{}")) or "home")
            _review(page, shot, label)

    review(open_page(viewport), VISITOR_PAGES, "visitor-")
    review(open_page(viewport, app, live_server, world["owner"]), SIGNED_IN_PAGES, "")
