"""The dunning timeline, driven by the Stripe emulator's clock: a renewal fails, the grace
period runs out, the instances stop; paying starts them again; left unpaid, they go."""

from __future__ import annotations

import httpx
import pytest

from railsaas.models import Email, Instance, StripeEvent, Tenant
from tests.support import login_as, wait_until
from tests.support.billing import (
    CARD,
    FAILS_LATER,
    PAYS,
    checkout_url,
    in_system,
    rows,
)


@pytest.fixture
def world(app, committed_factory, committed_plans, webhooks_to_app, celery_worker):
    """A subscribed workspace with two running instances, and a bystander workspace."""
    user, tenant = committed_factory.workspace()
    client = app.test_client()
    login_as(app, client, user)
    resp = httpx.post(
        checkout_url(app, client, committed_plans["starter"]), data={"card_number": PAYS, **CARD}
    )
    assert resp.status_code == 303
    wait_until(
        lambda: in_system(app, lambda s: s.get(Tenant, tenant.id).plan_id),
        message="the subscription",
    )
    mine = [committed_factory.instance(tenant, status="running") for _ in range(2)]
    _, other = committed_factory.workspace()
    theirs = committed_factory.instance(other, status="running")
    return {
        "client": client,
        "tenant": tenant,
        "mine": mine,
        "theirs": theirs,
        "emulator": webhooks_to_app,
    }


def settle(app, emulator) -> None:
    assert emulator.wait_for_webhooks(timeout=60)
    wait_until(
        lambda: all(e.processed_at for e in rows(app, StripeEvent)),
        message="every delivered event processed",
    )


def tenant(app, world) -> Tenant:
    return in_system(app, lambda s: s.get(Tenant, world["tenant"].id))


def statuses(app, instances) -> list[str]:
    ids = [i.id for i in instances]
    found = {i.id: i.status for i in rows(app, Instance, Instance.id.in_(ids))}
    return [found[i] for i in ids]


def kinds(app, world) -> list[str]:
    return [e.kind for e in rows(app, Email, Email.tenant_id == world["tenant"].id)]


def fail_renewal(app, world) -> None:
    emulator = world["emulator"]
    emulator.set_card(tenant(app, world).stripe_customer_id, FAILS_LATER)
    emulator.advance(days=31, hours=2)
    settle(app, emulator)


def run_dunning() -> int:
    from railsaas.tasks.billing import run_dunning as task

    return task()


def test_failed_payment_grace_suspension_and_paying_again_restores(app, world, sc):
    fail_renewal(app, world)
    t = tenant(app, world)
    assert t.dunning_stage == "notified"
    assert "billing/payment_failed" in kinds(app, world)
    page = world["client"].get("/billing").get_data(as_text=True)
    assert "Your last payment failed" in page

    assert run_dunning() == 0  # still in the grace period: nothing stops
    assert statuses(app, world["mine"]) == ["running", "running"]

    world["emulator"].advance(days=7)
    settle(app, world["emulator"])
    assert run_dunning() == 1
    assert tenant(app, world).dunning_stage == "suspended"
    assert statuses(app, world["mine"]) == ["suspended", "suspended"]
    assert statuses(app, [world["theirs"]]) == ["running"]
    assert "billing/suspended" in kinds(app, world)
    assert "instances are stopped" in world["client"].get("/billing").get_data(as_text=True)
    assert run_dunning() == 0  # a rerun changes nothing

    invoice = sc.v1.invoices.list(
        params={"customer": tenant(app, world).stripe_customer_id, "status": "open"}
    ).data[0]
    paid = httpx.post(invoice.hosted_invoice_url, data={"card_number": PAYS, **CARD})
    assert paid.status_code == 303
    settle(app, world["emulator"])
    t = tenant(app, world)
    assert (t.dunning_stage, t.payment_failed_at) == (None, None)
    assert set(statuses(app, world["mine"])) <= {"starting", "running"}
    assert "billing/payment_recovered" in kinds(app, world)
    recovered = [e for e in rows(app, Email, Email.kind == "billing/payment_recovered")]
    assert "starting again" in recovered[0].text_body


def test_left_unpaid_past_the_deadline_the_instances_are_deleted(app, world):
    fail_renewal(app, world)
    world["emulator"].advance(days=8)
    settle(app, world["emulator"])
    assert run_dunning() == 1
    world["emulator"].advance(days=23)
    settle(app, world["emulator"])
    assert run_dunning() == 1
    assert tenant(app, world).dunning_stage == "deleted"
    assert set(statuses(app, world["mine"])) <= {"deleting", "deleted"}
    assert statuses(app, [world["theirs"]]) == ["running"]
    assert "billing/deleted" in kinds(app, world)
    assert run_dunning() == 0
