"""Accounts in a real browser at phone width: sign up, confirm the address from the captured
mail on /dev/mail, log out, log in again. No JavaScript or CSP errors on any page."""

from tests.support.browser import assert_no_horizontal_scroll


def test_sign_up_confirm_log_out_and_in_on_a_phone(
    app, phone, live_server, celery_worker, mail_sink, shot
):
    page = phone
    page.goto(live_server + "/register")
    page.fill("#name", "Margaret Hamilton")
    page.fill("#email", "margaret@example.com")
    page.fill("#password", "short")
    page.click("text=Create account")
    assert page.locator("[data-testid=error-password]").is_visible()
    assert_no_horizontal_scroll(page)
    shot(page, "register-error")

    page.fill("#password", "apollo guidance computer")
    page.click("text=Create account")
    # Sign-up answers a taken address the same way, so it signs no one in: log in next.
    page.wait_for_url("**/login")
    page.fill("#email", "margaret@example.com")
    page.fill("#password", "apollo guidance computer")
    page.click("form >> text=Log in")
    page.wait_for_url("**/dashboard")
    assert page.locator("[data-testid=verify-banner]").is_visible()
    assert "Margaret Hamilton's workspace" in page.inner_text("header")
    assert_no_horizontal_scroll(page)
    shot(page, "dashboard-unverified")

    mail_sink.wait_for(to="margaret@example.com", timeout=30)
    app.config.update(DEBUG=True, MAIL_CAPTURE_DIR=str(mail_sink.directory))
    try:
        page.goto(live_server + "/dev/mail")
        shot(page, "dev-mail")
        page.click("a[href*='/verify/']")
    finally:
        app.config.update(DEBUG=False, MAIL_CAPTURE_DIR="")
    assert page.locator("[data-testid=verify-ok]").is_visible()
    page.goto(live_server + "/dashboard")
    assert page.locator("[data-testid=verify-banner]").count() == 0

    page.click("[data-testid=menu-toggle]")  # on a phone, Log out is in the menu
    page.click("[data-testid=logout]")
    page.wait_for_url(live_server + "/")
    page.goto(live_server + "/login")
    page.fill("#email", "margaret@example.com")
    page.fill("#password", "wrong password entirely")
    page.click("form >> text=Log in")
    assert page.locator("[data-testid=form-error]").is_visible()
    shot(page, "login-error")
    page.fill("#password", "apollo guidance computer")
    page.click("form >> text=Log in")
    page.wait_for_url("**/dashboard")
    page.goto(live_server + "/account")
    assert page.inner_text("[data-testid=current-email]") == "margaret@example.com"
    assert_no_horizontal_scroll(page)
    shot(page, "account")
