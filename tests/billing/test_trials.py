"""One free trial per person, per Stripe customer and per card: a second workspace's checkout
comes without one (and the pages say so), and a trial that slipped through (two checkouts at
once, one card behind two accounts) is ended at Stripe as soon as the subscription appears."""

from __future__ import annotations

import httpx
import pytest

from railsaas.models import Plan, Subscription, TrialClaim
from tests.support import login_as
from tests.support.billing import (
    CARD,
    PAYS,
    checkout_url,
    deliver,
    in_system,
    process,
    rows,
)

OTHER_CARD = "5555 5555 5555 4444"


@pytest.fixture
def trial_plan(app, plans):
    plan = plans["starter"]
    in_system(app, lambda s: setattr(s.get(Plan, plan.id), "trial_days", 14))
    plan.trial_days = 14
    return plan


class Delivery:
    """Delivers and processes the emulator's events not delivered yet."""

    def __init__(self, client, emulator) -> None:
        self.client, self.emulator, self.seen = client, emulator, set()

    def __call__(self) -> None:
        fresh = [e for e in self.emulator.events() if e["id"] not in self.seen]
        self.seen.update(e["id"] for e in fresh)
        process(*deliver(self.client, self.emulator, events=fresh))


def start(app, client, workspace, plan) -> str:
    with client.session_transaction() as s:
        s["tenant_id"] = str(workspace.id)
    return checkout_url(app, client, plan)


def pay(url: str, card: str = PAYS) -> None:
    resp = httpx.post(url, data={"card_number": card, **CARD})
    assert resp.status_code == 303, resp.text


def sub_of(app, workspace) -> Subscription:
    (sub,) = rows(app, Subscription, Subscription.tenant_id == workspace.id)
    return sub


def test_a_persons_second_workspace_gets_no_trial_and_the_pages_say_so(
    app, client, stripe_emulator, factory, trial_plan
):
    user, first = factory.workspace()
    second = factory.tenant()
    factory.member(second, user, "owner")
    login_as(app, client, user)
    delivered = Delivery(client, stripe_emulator)
    pay(start(app, client, first, trial_plan))
    delivered()
    assert sub_of(app, first).status == "trialing"
    (claim,) = rows(app, TrialClaim)
    assert claim.user_id == user.id

    with client.session_transaction() as s:
        s["tenant_id"] = str(second.id)
    pricing = client.get("/pricing").get_data(as_text=True)
    assert 'data-testid="no-trial"' in pricing
    assert "14-day free trial" not in pricing
    assert 'data-testid="no-trial"' in client.get("/billing").get_data(as_text=True)
    pay(start(app, client, second, trial_plan))
    delivered()
    sub = sub_of(app, second)
    assert (sub.status, sub.trial_end) == ("active", None)
    assert len(rows(app, TrialClaim)) == 1


def test_two_checkouts_started_at_once_give_one_trial(
    app, client, stripe_emulator, factory, trial_plan, sc
):
    user, first = factory.workspace()
    second = factory.tenant()
    factory.member(second, user, "owner")
    login_as(app, client, user)
    delivered = Delivery(client, stripe_emulator)
    urls = [start(app, client, first, trial_plan), start(app, client, second, trial_plan)]
    for url in urls:  # both were offered a trial: neither had been claimed yet
        pay(url, OTHER_CARD if url == urls[1] else PAYS)
    delivered()
    delivered()  # the ended trial's own events
    subs = sorted((sub_of(app, w) for w in (first, second)), key=lambda s: s.status)
    assert [s.status for s in subs] == ["active", "trialing"]
    remote = sc.v1.subscriptions.retrieve(subs[0].stripe_subscription_id)
    assert remote.status == "active"
    paid = sc.v1.invoices.list(params={"subscription": remote.id, "status": "paid"}).data
    assert any(i.amount_paid == trial_plan.price_cents for i in paid)
    assert len(rows(app, TrialClaim)) == 1


def test_one_card_gets_one_trial_whoever_uses_it(app, stripe_emulator, factory, trial_plan):
    people = [factory.workspace() for _ in range(3)]
    results = []
    for (user, workspace), card in zip(people, (PAYS, PAYS, OTHER_CARD), strict=True):
        client = app.test_client()
        login_as(app, client, user)
        pay(start(app, client, workspace, trial_plan), card)
        Delivery(client, stripe_emulator)()
        results.append(sub_of(app, workspace).status)
    assert results == ["trialing", "active", "trialing"]
    claims = rows(app, TrialClaim)
    assert len({c.card_fingerprint for c in claims}) == 2
    assert all(c.card_fingerprint for c in claims)


def test_the_success_page_claims_the_trial_as_the_web_login(
    app, client, stripe_emulator, factory, trial_plan
):
    """The owner's own request applies the new subscription before any webhook: the web
    login sees only its person's claims, so the claim goes through billing_claim_trial."""
    user, workspace = factory.workspace()
    login_as(app, client, user)
    resp = httpx.post(start(app, client, workspace, trial_plan), data={"card_number": PAYS, **CARD})
    assert resp.status_code == 303, resp.text
    back = client.get(resp.headers["location"].removeprefix(app.config["BASE_URL"]))
    assert back.status_code == 200
    assert sub_of(app, workspace).status == "trialing"
    (claim,) = rows(app, TrialClaim)
    assert claim.user_id == user.id
    Delivery(client, stripe_emulator)()  # the webhooks find it claimed: still one, still trialing
    assert len(rows(app, TrialClaim)) == 1
    assert sub_of(app, workspace).status == "trialing"
