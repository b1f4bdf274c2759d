"""The public docs in a real browser, at desktop and phone widths: every page loads its
stylesheet under the CSP with no JavaScript error and fits a phone; search works with and
without htmx."""

from __future__ import annotations

from railsaas.docs import library as docs
from tests.support.browser import assert_no_horizontal_scroll


def _slugs(app) -> list[str]:
    return [p.slug for p in docs.library(docs.settings_values(app.config)).pages]


def test_every_docs_page_at_desktop_width(page, app, live_server, shot):
    for slug in _slugs(app):
        page.goto(f"{live_server}/docs/{slug}")
        assert page.locator("article.docs-page h1").is_visible()
        # docs.css applied: the sidebar sits beside the page and stays in view.
        assert (
            page.evaluate(
                "() => getComputedStyle(document.querySelector('.docs-sidebar')).position"
            )
            == "sticky"
        )
        assert page.locator(".docs-toc a").count() >= 2  # this page's sections
    page.goto(f"{live_server}/docs/custom-domains")
    shot(page, "custom-domains")
    page.locator(".docs-toc a", has_text="How verification works").click()
    assert page.url.endswith("#how-verification-works")
    page.locator("a[rel=next]").click()
    page.wait_for_url("**/docs/logs-and-metrics")


def test_every_docs_page_fits_a_phone(phone, app, live_server, shot):
    for slug in ["", *(f"/{s}" for s in _slugs(app))]:
        phone.goto(f"{live_server}/docs{slug}")
        assert_no_horizontal_scroll(phone)
    phone.goto(f"{live_server}/docs/billing-and-spend-caps")
    shot(phone, "billing-phone")


def test_live_search_shows_results_as_you_type(page, live_server, shot):
    page.goto(f"{live_server}/docs/search")
    page.locator("main input[name=q]").fill("spend cap")
    first = page.locator("[data-testid=docs-hit] a").first
    first.wait_for()
    assert first.get_attribute("href") == "/docs/billing-and-spend-caps#spend-caps"
    # The address follows the search, so it can be shared or reloaded.
    page.wait_for_function("() => /^[?]q=spend(\\+|%20)cap$/.test(location.search)")
    shot(page, "live-search")
    first.click()
    page.wait_for_url("**/docs/billing-and-spend-caps#spend-caps")


def test_search_works_without_javascript(browser, live_server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/docs/api")
        page.locator(".docs-sidebar input[name=q]").fill("bearer token")
        page.locator(".docs-sidebar input[name=q]").press("Enter")
        page.wait_for_url("**/docs/search?q=bearer+token")
        assert page.locator("[data-testid=docs-hit]").count() >= 1
    finally:
        context.close()
