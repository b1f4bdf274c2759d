"""Subscribing in a real browser at phone width: pricing page, Stripe's hosted Checkout (the
emulator, another origin our CSP must let the form go to), back to our success page, and the
billing page showing the plan once the webhook has been processed."""

from tests.support import DEFAULT_PASSWORD
from tests.support.billing import make_plans
from tests.support.browser import assert_no_horizontal_scroll


def test_a_customer_subscribes_through_hosted_checkout_on_a_phone(
    app, phone, live_server, celery_worker, committed_factory, stripe_emulator, shot
):
    plans = make_plans(app)
    stripe_emulator.configure_webhooks(
        url=f"{live_server}/api/stripe/webhook", retry_base_seconds=0.2
    )
    user, _ = committed_factory.workspace()
    page = phone
    page.goto(live_server + "/login")
    page.fill("#email", user.email)
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("form >> text=Log in")
    page.wait_for_url("**/dashboard")

    page.goto(live_server + "/pricing")
    assert_no_horizontal_scroll(page)
    shot(page, "pricing")
    page.click(f"[data-testid=subscribe-{plans['starter'].slug}]")
    page.wait_for_url(stripe_emulator.url + "/c/pay/**")
    shot(page, "hosted-checkout")
    page.fill("#card_number", "4242 4242 4242 4242")
    page.fill("#card_expiry", "12 / 34")
    page.fill("#card_cvc", "123")
    page.click("[data-testid=checkout-submit]")
    page.wait_for_url("**/billing/success?session_id=*")
    assert "Starter plan" in page.inner_text("[data-testid=checkout-result]")
    shot(page, "success")

    page.goto(live_server + "/billing")
    assert page.inner_text("[data-testid=subscription-status]") == "active"
    assert "Starter" in page.inner_text("[data-testid=plan-name]")
    page.wait_for_selector("[data-testid=invoices] >> text=$9.00")
    assert_no_horizontal_scroll(page)
    shot(page, "billing")
