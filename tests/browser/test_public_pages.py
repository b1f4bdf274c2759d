"""The public pages in a real browser: no JavaScript errors, phone width, keyboard."""

from tests.support.browser import assert_no_horizontal_scroll


def test_landing_page_loads_htmx_and_styles_without_errors(page, live_server, shot):
    page.goto(live_server + "/")
    assert page.locator("h1").first.inner_text()
    # htmx came from static/vendor (no CDN) and initialised under the CSP.
    assert page.evaluate("() => typeof window.htmx === 'object'")
    assert page.evaluate("() => getComputedStyle(document.body).fontFamily.length > 0")
    shot(page, "landing")


def test_landing_page_fits_a_phone(phone, live_server, shot):
    phone.goto(live_server + "/")
    assert_no_horizontal_scroll(phone)
    shot(phone, "landing-phone")


def test_catalog_fits_a_phone_whatever_the_admin_typed(phone, live_server, committed_factory, shot):
    # Names, categories and descriptions are admin (or API) input: one long unbroken word in
    # any of them must wrap rather than push the page wider than a phone.
    word = "x" * 90
    template = committed_factory.template(
        name="Long" + word, category="cat" + word, description="desc" + word
    )
    for path in ("/templates/", f"/templates/{template.id}", "/"):
        phone.goto(live_server + path)
        assert_no_horizontal_scroll(phone)
    shot(phone, "catalog-long-names")
