"""An operator's day in a real browser: an admin imports a template from Railway, working the
forms by keyboard only, the template appears in the public catalog, a customer subscribes
through the hosted checkout, and the admin's MRR moves by the plan's price."""

from __future__ import annotations

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Template, User
from tests.support import DEFAULT_PASSWORD
from tests.support.billing import make_plans
from tests.support.browser import (
    assert_no_horizontal_scroll,
    enter_second_factor_by_keyboard,
    prepare_second_factor,
)


def _log_in_by_keyboard(page, live_server, user) -> None:
    asks_code = prepare_second_factor(user.id)  # platform admins sign in with a code
    page.goto(live_server + "/login")
    page.focus("#email")
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    page.keyboard.type(DEFAULT_PASSWORD)
    page.keyboard.press("Enter")
    if asks_code:
        enter_second_factor_by_keyboard(page, user.id)
    page.wait_for_url("**/dashboard")


def _mrr(page) -> str:
    return page.inner_text("[data-testid=mrr] strong")


def test_admin_imports_a_template_and_sees_mrr_change(
    app,
    page,
    phone,
    live_server,
    celery_worker,
    committed_factory,
    railway_emulator,
    stripe_emulator,
    shot,
):
    plans = make_plans(app)
    stripe_emulator.configure_webhooks(
        url=f"{live_server}/api/stripe/webhook", retry_base_seconds=0.2
    )
    admin, _ = committed_factory.workspace(name="Ops")
    with db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    customer, _ = committed_factory.workspace(name="Customer Co")

    _log_in_by_keyboard(page, live_server, admin)
    page.goto(live_server + "/admin/metrics")
    assert _mrr(page) == "$0.00"
    # The admin styles apply at desktop width too (an unclosed @media once scoped them to phones).
    assert page.evaluate("getComputedStyle(document.querySelector('.stats')).display") == "grid"
    shot(page, "mrr-before")

    # Import by code: type it, Enter submits the import form; the full form comes back filled.
    page.goto(live_server + "/admin/templates/new")
    page.get_by_label("Import from a Railway template code").focus()
    page.keyboard.type("ghost")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Imported Ghost from Railway")
    assert page.input_value("input[name=name]") == "Ghost"
    assert "mail__from" in page.input_value("textarea[name=variables_json]")
    shot(page, "imported")
    page.get_by_label("Category").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("blogs")
    page.get_by_label("Monthly estimate (USD)").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("7.50")
    page.keyboard.press("Enter")  # Enter in a text field submits the template form
    page.wait_for_url("**/admin/templates")
    page.wait_for_selector("text=Template Ghost created")
    shot(page, "template-created")
    with db.scope(SYSTEM) as s:
        saved = s.query(Template).filter_by(code="ghost").one()
        assert (saved.category, saved.monthly_estimate_cents, saved.is_active) == (
            "blogs",
            750,
            True,
        )

    # A customer finds it in the catalog at phone width and subscribes.
    _log_in_by_keyboard(phone, live_server, customer)
    phone.goto(live_server + "/templates/?q=ghost")
    card = phone.locator("[data-testid=template-card]", has_text="Ghost")
    assert "~$7.50/month" in card.inner_text()
    assert_no_horizontal_scroll(phone)
    shot(phone, "catalog-has-it")
    phone.goto(live_server + "/pricing")
    phone.click(f"[data-testid=subscribe-{plans['starter'].slug}]")
    phone.wait_for_url(stripe_emulator.url + "/c/pay/**")
    phone.fill("#card_number", "4242 4242 4242 4242")
    phone.fill("#card_expiry", "12 / 34")
    phone.fill("#card_cvc", "123")
    phone.click("[data-testid=checkout-submit]")
    phone.wait_for_url("**/billing/success?session_id=*")
    phone.goto(live_server + "/billing")
    phone.wait_for_selector("[data-testid=subscription-status] >> text=active")

    # The webhook was processed by the worker: the admin's MRR now carries the Starter price.
    page.goto(live_server + "/admin/metrics")
    assert _mrr(page) == "$9.00"
    assert "Starter" in page.inner_text("[data-testid=plans]")
    shot(page, "mrr-after")
