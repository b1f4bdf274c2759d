"""Plans: the admin's price list (priced in Stripe on save, every change audited), the public
pricing page built from it, and the limits a plan sets on deploys and downgrades."""

from __future__ import annotations

import pytest

from railsaas.errors import LimitExceeded
from railsaas.instances import admission as plan_rules
from railsaas.models import AuditLog, Instance, Plan, Tenant
from tests.support import csrf_from, login_as
from tests.support.billing import in_system, rows

FORM = {
    "name": "Team",
    "slug": "team",
    "description": "For teams",
    "price": "49.00",
    "currency": "usd",
    "interval": "month",
    "max_instances": "20",
    "allowed_tiers": ["starter", "standard"],
    "included_usage": "25",
    "spend_cap_default": "200",
    "trial_days": "7",
    "sort_order": "5",
    "is_active": "1",
    "sync_stripe": "1",
    "stripe_price_id": "",
}


@pytest.fixture
def admin(app, client, factory):
    user = factory.user(role="admin")
    factory.member(factory.tenant(name="Ops"), user)
    login_as(app, client, user)
    return user


def csrf(client, path="/admin/plans/new") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def test_an_admin_creates_a_plan_and_its_stripe_price(app, client, admin, stripe_emulator, sc):
    resp = client.post("/admin/plans/new", data={**FORM, "csrf_token": csrf(client)})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    (plan,) = rows(app, Plan, Plan.slug == "team")
    assert (plan.price_cents, plan.included_usage_cents, plan.spend_cap_default_cents) == (
        4900,
        2500,
        20000,
    )
    assert plan.allowed_tiers == ["starter", "standard"]
    price = sc.v1.prices.retrieve(plan.stripe_price_id, params={"expand": ["product"]})
    assert (price.unit_amount, price.recurring.interval, price.product.name) == (
        4900,
        "month",
        "Team",
    )
    (entry,) = rows(app, AuditLog, AuditLog.action == "plan.create")
    assert (entry.actor_type, entry.actor_user_id, entry.target_id) == (
        "admin",
        admin.id,
        str(plan.id),
    )
    listing = client.get("/admin/plans").get_data(as_text=True)
    assert "Team" in listing
    assert plan.stripe_price_id in listing


def test_a_new_price_replaces_the_stripe_price_and_archives_the_old(
    app, client, admin, stripe_emulator, sc
):
    client.post("/admin/plans/new", data={**FORM, "csrf_token": csrf(client)})
    (plan,) = rows(app, Plan, Plan.slug == "team")
    old_price = plan.stripe_price_id
    edit = f"/admin/plans/{plan.id}"
    page = client.get(edit).get_data(as_text=True)
    assert 'value="49.00"' in page
    resp = client.post(
        edit,
        data={
            **FORM,
            "price": "59",
            "stripe_price_id": old_price,
            "csrf_token": csrf(client, edit),
        },
    )
    assert resp.status_code == 303
    (plan,) = rows(app, Plan, Plan.slug == "team")
    assert plan.price_cents == 5900
    assert plan.stripe_price_id != old_price
    assert sc.v1.prices.retrieve(old_price).active is False
    assert sc.v1.prices.retrieve(plan.stripe_price_id).unit_amount == 5900
    (entry,) = rows(app, AuditLog, AuditLog.action == "plan.update")
    assert entry.details["changed"]["price_cents"] == {"from": 4900, "to": 5900}


def test_bad_input_shows_every_problem_and_saves_nothing(app, client, admin, stripe_emulator):
    bad = {
        **FORM,
        "price": "nineteen",
        "slug": "Not A Slug",
        "allowed_tiers": [],
        "interval": "fortnight",
        "csrf_token": csrf(client),
    }
    resp = client.post("/admin/plans/new", data=bad)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    for field in ("price-error", "slug-error", "allowed_tiers-error", "interval-error"):
        assert f'id="{field}"' in html
    assert rows(app, Plan, Plan.name == "Team") == []
    assert rows(app, AuditLog, AuditLog.action == "plan.create") == []


def test_a_stripe_price_that_does_not_match_is_refused(app, client, admin, stripe_emulator, sc):
    other = sc.v1.prices.create(
        params={
            "product_data": {"name": "X"},
            "unit_amount": 100,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    data = {**FORM, "stripe_price_id": other.id, "csrf_token": csrf(client)}
    data.pop("sync_stripe")
    resp = client.post("/admin/plans/new", data=data)
    assert resp.status_code == 422
    assert "does not match" in resp.get_data(as_text=True)


def test_archiving_takes_a_plan_off_the_pricing_page_and_an_unused_one_can_go(
    app, client, admin, stripe_emulator, factory
):
    client.post("/admin/plans/new", data={**FORM, "csrf_token": csrf(client)})
    (plan,) = rows(app, Plan, Plan.slug == "team")
    assert 'data-testid="plan-team"' in client.get("/pricing").get_data(as_text=True)
    token = csrf(client, "/admin/plans")
    client.post(f"/admin/plans/{plan.id}/archive", data={"csrf_token": token})
    assert rows(app, Plan, Plan.slug == "team")[0].is_active is False
    assert 'data-testid="plan-team"' not in client.get("/pricing").get_data(as_text=True)
    used = factory.plan()
    factory.tenant(plan_id=used.id)
    client.post(f"/admin/plans/{used.id}/delete", data={"csrf_token": token})
    assert rows(app, Plan, Plan.id == used.id)
    client.post(f"/admin/plans/{plan.id}/delete", data={"csrf_token": token})
    assert rows(app, Plan, Plan.slug == "team") == []
    actions = {e.action for e in rows(app, AuditLog)}
    assert {"plan.create", "plan.archive", "plan.delete"} <= actions


def test_plans_are_for_platform_admins_only(app, client, factory):
    user, _ = factory.workspace()
    login_as(app, client, user)
    assert client.get("/admin/plans").status_code == 403
    # Without a CSRF token the form is refused before any view runs (errors.py: a CSRFError
    # is 400); with one, the platform-admin check refuses it. Neither creates the plan.
    assert client.post("/admin/plans/new", data=FORM).status_code == 400
    token = csrf_from(client.get("/account").get_data(as_text=True))
    assert client.post("/admin/plans/new", data={"csrf_token": token, **FORM}).status_code == 403
    assert rows(app, Plan, Plan.slug == FORM["slug"]) == []


def test_the_pricing_page_is_public_and_lists_active_plans_in_order(app, client, factory):
    factory.plan(name="Cheap", price_cents=500, sort_order=1)
    factory.plan(name="Dear", price_cents=5000, sort_order=2)
    factory.plan(name="Gone", is_active=False)
    page = client.get("/pricing").get_data(as_text=True)
    assert page.index("Cheap") < page.index("Dear")
    assert "Gone" not in page
    assert "$5.00" in page
    assert "$50.00" in page


# --- limits -----------------------------------------------------------------------------------


@pytest.fixture
def small(app, factory):
    plan = factory.plan(name="Small", max_instances=2, allowed_tiers=["starter"])
    user, tenant = factory.workspace()
    in_system(app, lambda s: setattr(s.get(Tenant, tenant.id), "plan_id", plan.id))
    return user, tenant, plan


def check(app, tenant, template):
    in_system(
        app, lambda s: plan_rules.check_can_deploy(s, s.get(Tenant, tenant.id), s.merge(template))
    )


def test_deploys_are_checked_against_the_plan(app, factory, small):
    _, tenant, _ = small
    starter = factory.template(price_tier="starter")
    pro = factory.template(price_tier="pro", name="Big thing")
    check(app, tenant, starter)
    with pytest.raises(LimitExceeded, match="includes starter templates, and Big thing is a pro"):
        check(app, tenant, pro)
    factory.instance(tenant, starter)
    factory.instance(tenant, starter, status="stopped")  # stopped ones do not count
    check(app, tenant, starter)
    factory.instance(tenant, starter)
    with pytest.raises(LimitExceeded, match="runs up to 2 instances") as err:
        check(app, tenant, starter)
    assert err.value.status == 402
    _, planless = factory.workspace()
    with pytest.raises(LimitExceeded, match="Choose a plan"):
        check(app, planless, starter)


def test_a_downgrade_over_the_limit_asks_which_instances_to_stop(app, client, factory, small):
    user, tenant, _ = small
    mine = [factory.instance(tenant, name=f"app-{n}") for n in range(3)]
    _, other = factory.workspace()
    theirs = factory.instance(other)
    login_as(app, client, user)
    assert "Choose which to stop" in client.get("/billing").get_data(as_text=True)
    page = client.get("/billing/over-limit")
    html = page.get_data(as_text=True)
    assert all(f'value="{i.id}"' in html for i in mine)
    token = csrf_from(html)
    none = client.post("/billing/over-limit", data={"csrf_token": token})
    assert none.status_code == 422
    assert "Pick at least 1" in none.get_data(as_text=True)
    foreign = client.post(
        "/billing/over-limit", data={"csrf_token": token, "instance_ids": [str(theirs.id)]}
    )
    assert foreign.status_code == 404
    done = client.post(
        "/billing/over-limit", data={"csrf_token": token, "instance_ids": [str(mine[0].id)]}
    )
    assert done.status_code == 303
    statuses = {i.id: i.status for i in rows(app, Instance, Instance.tenant_id == tenant.id)}
    assert statuses[mine[0].id] in ("stopping", "stopped")
    assert statuses[mine[1].id] == statuses[mine[2].id] == "running"
    assert rows(app, Instance, Instance.id == theirs.id)[0].status == "running"
    assert "Choose which to stop" not in client.get("/billing").get_data(as_text=True)
