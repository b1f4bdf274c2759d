"""The billing API: subscription (read, subscribe, switch, cancel), invoices and usage, for
the caller's workspace only."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from railsaas.billing import usage
from railsaas.models import Subscription, Tenant, UsageMetric
from tests.support.api import auth_header
from tests.support.billing import CARD, PAYS, deliver, in_system, process, rows


@pytest.fixture
def owner(client, factory):
    user, tenant = factory.workspace()
    return user, tenant, auth_header(client, user)


def subscribe(client, stripe_emulator, headers, plan) -> None:
    resp = client.post("/api/billing/subscription", json={"plan_id": str(plan.id)}, headers=headers)
    assert resp.status_code == 201, resp.json
    assert resp.json["checkout_url"].startswith(stripe_emulator.url)
    assert resp.json["checkout_session_id"].startswith("cs_")
    paid = httpx.post(resp.json["checkout_url"], data={"card_number": PAYS, **CARD})
    assert paid.status_code == 303
    process(*deliver(client, stripe_emulator))


def test_a_workspace_without_a_plan_reads_empty(client, owner):
    _, _, headers = owner
    resp = client.get("/api/billing/subscription", headers=headers)
    assert resp.status_code == 200
    assert resp.json == {
        "plan": None,
        "subscription": None,
        "payment_failed_at": None,
        "dunning_stage": None,
        "spend_cap_cents": None,
        "spend_cap_state": "ok",
    }
    assert client.get("/api/billing/invoices", headers=headers).json == {
        "items": [],
        "next_cursor": None,
    }


def test_subscribe_switch_and_cancel_through_the_api(app, client, owner, plans, stripe_emulator):
    _, tenant, headers = owner
    subscribe(client, stripe_emulator, headers, plans["starter"])
    got = client.get("/api/billing/subscription", headers=headers).json
    assert got["plan"]["name"] == "Starter"
    assert got["subscription"]["status"] == "active"
    assert got["spend_cap_cents"] == 2000
    assert datetime.fromisoformat(got["subscription"]["current_period_end"]) > datetime.now(UTC)

    switched = client.post(
        "/api/billing/subscription", json={"plan_id": str(plans["pro"].id)}, headers=headers
    )
    assert switched.status_code == 200, switched.json
    assert switched.json["plan"]["name"] == "Pro"
    assert switched.json["subscription"]["plan_name"] == "Pro"
    invoices = client.get("/api/billing/invoices", headers=headers).json["items"]
    assert len(invoices) == 2  # the first period, then the proration
    assert all(i["hosted_invoice_url"] and i["invoice_pdf"] for i in invoices)
    assert {i["status"] for i in invoices} == {"paid"}

    cancelled = client.post(
        "/api/billing/subscription", json={"cancel_at_period_end": True}, headers=headers
    )
    assert cancelled.status_code == 200
    assert cancelled.json["subscription"]["cancel_at_period_end"] is True
    assert len(rows(app, Subscription, Subscription.tenant_id == tenant.id)) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"plan_id": None},
        {"plan_id": "x", "cancel_at_period_end": True},
        {"cancel_at_period_end": True, "extra": 1},
        {"plan_id": "not-a-uuid"},
    ],
)
def test_bad_bodies_get_422_and_change_nothing(app, client, owner, body):
    _, tenant, headers = owner
    resp = client.post("/api/billing/subscription", json=body, headers=headers)
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "validation_failed"
    assert rows(app, Subscription) == []
    assert in_system(app, lambda s: s.get(Tenant, tenant.id).stripe_customer_id) is None


def test_only_the_owner_changes_the_subscription(app, client, factory, owner, plans):
    _, tenant, _ = owner
    member = factory.user()
    factory.member(tenant, member, role="admin")
    headers = auth_header(client, member)
    assert client.get("/api/billing/subscription", headers=headers).status_code == 200
    resp = client.post(
        "/api/billing/subscription", json={"plan_id": str(plans["pro"].id)}, headers=headers
    )
    assert resp.status_code == 403
    assert resp.json["error"]["code"] == "forbidden"


def test_usage_is_per_instance_and_another_workspace_is_not_found(app, client, factory, owner):
    _, tenant, headers = owner
    mine = factory.instance(tenant)
    _, other = factory.workspace()
    theirs = factory.instance(other)
    for inst, gb in ((mine, 20), (theirs, 999)):
        in_system(
            app,
            lambda s, i=inst, v=gb: s.add(
                UsageMetric(
                    tenant_id=i.tenant_id,
                    instance_id=i.id,
                    metric_type="NETWORK_TX_GB",
                    value=Decimal(v),
                    unit="GB",
                    recorded_at=datetime.now(UTC),
                )
            ),
        )
    in_system(app, usage.rollup)
    got = client.get("/api/billing/usage", headers=headers)
    assert got.status_code == 200
    body = got.json
    assert [i["id"] for i in body["instances"]] == [str(mine.id)]
    assert body["instances"][0]["cost_cents"] == 130  # $1.00 at Railway, +30%
    assert body["usage_cents"] == 130
    assert body["totals"] == {"NETWORK_TX_GB": 20.0}
    assert body["units"] == {"NETWORK_TX_GB": "GB"}
    one = client.get(f"/api/billing/usage?instance_id={mine.id}", headers=headers)
    assert [i["name"] for i in one.json["instances"]] == [mine.name]
    missing = client.get(f"/api/billing/usage?instance_id={theirs.id}", headers=headers)
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "not_found"
    malformed = client.get("/api/billing/usage?instance_id=nope", headers=headers)
    assert malformed.status_code == 422  # a malformed filter is invalid input, as everywhere
    assert "instance_id" in malformed.json["error"]["details"]
    elsewhere = client.get(
        "/api/billing/usage", headers={**headers, "X-Workspace-ID": str(other.id)}
    )
    assert elsewhere.status_code == 404


def test_the_api_needs_a_token(client):
    for path in ("/api/billing/subscription", "/api/billing/invoices", "/api/billing/usage"):
        assert client.get(path).status_code == 401
    assert client.post("/api/billing/subscription", json={}).status_code == 401


def test_plans_are_listed_publicly_in_price_list_order(client, factory):
    cheap = factory.plan(name="Hobby", price_cents=500, sort_order=1, trial_days=7)
    dear = factory.plan(name="Team", price_cents=9900, sort_order=2, max_instances=20)
    factory.plan(name="Retired", is_active=False)
    resp = client.get("/api/plans")  # no token
    assert resp.status_code == 200
    listed = [p for p in resp.json["items"] if p["id"] in {str(cheap.id), str(dear.id)}]
    assert [p["name"] for p in listed] == ["Hobby", "Team"]
    assert "Retired" not in {p["name"] for p in resp.json["items"]}
    hobby = listed[0]
    assert hobby["price_cents"] == 500
    assert hobby["trial_days"] == 7
    assert hobby["max_instances"] == cheap.max_instances
    assert hobby["allowed_tiers"] == cheap.allowed_tiers
    assert "stripe_price_id" not in hobby  # Stripe's ids are ours, not the client's
