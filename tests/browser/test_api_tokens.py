"""API tokens and the API reference in a real browser at phone width: create a token with
HTMX, see its secret once, use it, revoke it (confirming); read the reference page. No
JavaScript or CSP errors, nothing wider than the screen."""

import httpx

from tests.support import DEFAULT_PASSWORD
from tests.support.browser import assert_no_horizontal_scroll


def _log_in(page, live_server, user):
    page.goto(live_server + "/login")
    page.fill("#email", user.email)
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("form >> text=Log in")
    page.wait_for_url("**/dashboard")


def test_create_use_and_revoke_a_token_on_a_phone(phone, live_server, committed_factory, shot):
    page = phone
    user, _ = committed_factory.workspace()
    _log_in(page, live_server, user)
    page.goto(live_server + "/account")
    page.click("a[href='/account/tokens']")
    page.wait_for_url("**/account/tokens")
    assert page.locator("[data-testid=no-tokens]").is_visible()
    assert_no_horizontal_scroll(page)
    shot(page, "empty")

    page.fill("#name", "deploy from CI")
    page.check("input[value=deploy]")
    page.select_option("#expires_in_days", "30")
    page.click("text=Create token")
    secret = page.inner_text("[data-testid=token-secret]").strip()
    assert secret.startswith("rs_live_")
    assert page.url.endswith("/account/tokens")  # swapped in place, nothing to reload
    assert_no_horizontal_scroll(page)
    shot(page, "created")

    api = httpx.get(
        live_server + "/api/users/profile", headers={"Authorization": f"Bearer {secret}"}
    )
    assert api.status_code == 200

    page.reload()
    assert secret not in page.content()
    assert page.locator("text=deploy from CI").is_visible()
    page.click("button:has-text('Revoke')")
    # The one confirm dialog (app.js), not the browser's window.confirm.
    page.locator("dialog.confirm-dialog[open]").wait_for()
    page.click("[data-testid=confirm-ok]")
    page.wait_for_selector(".token-row-revoked")
    assert_no_horizontal_scroll(page)
    shot(page, "revoked")
    api = httpx.get(
        live_server + "/api/users/profile", headers={"Authorization": f"Bearer {secret}"}
    )
    assert api.status_code == 401


def test_the_api_reference_reads_on_a_phone(phone, live_server, shot):
    page = phone
    page.goto(live_server + "/api/docs")
    assert page.locator("[data-testid=op-tokens_create]").count() == 1
    page.click("summary:has-text('tokens')")
    page.click("a[href='#tokens_create']")
    assert_no_horizontal_scroll(page)
    shot(page, "reference")
