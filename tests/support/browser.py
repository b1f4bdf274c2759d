"""Helpers for tests/browser (test modules import them from here, not from a conftest)."""

from __future__ import annotations

import re

from tests.support.two_factor import enrol_if_admin, fresh_code


def assert_no_horizontal_scroll(page) -> None:
    """At phone width nothing may force the page wider than the screen. Measured once the
    page has loaded: a page still fetching its stylesheet lays out unstyled (an SVG at its
    own width) on a busy machine."""
    page.wait_for_load_state("load")
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"page is {overflow}px wider than the viewport"


def prepare_second_factor(user_id) -> bool:
    """Before a browser signs in with the login form: a platform admin is enrolled in 2FA
    (tests.support.two_factor); True when the form will then ask for a code."""
    return enrol_if_admin(user_id)


def enter_second_factor_by_keyboard(page, user_id) -> None:
    """Answer the sign-in's second step (the code field has the focus) with a fresh code."""
    page.wait_for_url("**/login/two-factor")
    page.keyboard.type(fresh_code(user_id))
    page.keyboard.press("Enter")


# Templates' logos may be https images elsewhere (a CDN), which this machine cannot reach: the
# browser gets a stand-in image for any outside address, so no test depends on the internet.
STAND_IN_IMAGE = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8" '
    'fill="#90caf9"/></svg>'
)


def stub_outside_images(context) -> None:
    """Answer every https:// request of this browser context with the stand-in image."""
    context.route(
        re.compile(r"^https://"),
        lambda route: route.fulfill(status=200, content_type="image/svg+xml", body=STAND_IN_IMAGE),
    )
