"""Accounts in a real browser at phone width: sign up, confirm the address from the captured
mail on /dev/mail, log out, log in again. No JavaScript or CSP errors on any page."""

import time

import pyotp

from tests.support import DEFAULT_PASSWORD
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


def test_two_factor_enrolment_and_sign_in_on_a_phone(phone, live_server, committed_factory, shot):
    """Scan (read) the key, confirm with a code, keep the recovery codes, then sign in with a
    code; the QR code fits the phone and the pages draw without CSP errors."""
    user, _ = committed_factory.workspace()
    page = phone
    page.goto(live_server + "/login")
    page.fill("#email", user.email)
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("form >> text=Log in")
    page.wait_for_url("**/dashboard")
    page.goto(live_server + "/account")
    page.click("[data-testid=two-factor-link]")
    page.click("[data-testid=two-factor-setup]")
    qr = page.locator("[data-testid=two-factor-qr] svg").bounding_box()
    assert 100 <= qr["width"] <= 375
    assert_no_horizontal_scroll(page)
    shot(page, "two-factor-enrol")
    secret = page.inner_text("[data-testid=two-factor-key]")
    totp = pyotp.TOTP(secret)
    page.fill("input[name=totp-code]", totp.now())
    page.click("text=Confirm")
    page.wait_for_selector("[data-testid=recovery-codes]")
    assert page.locator("[data-testid=recovery-codes] li").count() == 10
    assert_no_horizontal_scroll(page)
    shot(page, "two-factor-recovery-codes")

    page.click("[data-testid=menu-toggle]")  # on a phone, Log out is in the menu
    page.click("[data-testid=logout]")
    page.wait_for_url(live_server + "/")
    page.goto(live_server + "/login")
    page.fill("#email", user.email)
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("form >> text=Log in")
    page.wait_for_url("**/login/two-factor")
    shot(page, "two-factor-sign-in")
    page.fill("#code", totp.at(int(time.time()) + 30))  # the next step: the first is spent
    page.click("form >> text=Verify")
    page.wait_for_url("**/dashboard")
