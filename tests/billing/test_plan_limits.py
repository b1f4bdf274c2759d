"""A downgrade below the plan's limits: warned at once and a day before the end of the grace
period, then the newest instances beyond the plan (and those of excluded tiers) stop; an
upgrade, a deletion or the owner's own choice during the grace period lifts it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from railsaas.billing import limits, subscriptions
from railsaas.context import Workspace
from railsaas.errors import ValidationFailed
from railsaas.models import AuditLog, Email, Instance, Tenant, User
from railsaas.tasks.billing import plan_limits
from tests.support import login_as
from tests.support.billing import CARD, PAYS, checkout_url, deliver, in_system, process, rows

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def world(app, factory):
    """A workspace downgraded to a plan of 2 starter instances, running 3 starter instances
    (oldest first) and one standard one; and a bystander within its plan."""
    small = factory.plan(max_instances=2, allowed_tiers=["starter"])
    big = factory.plan(max_instances=10, allowed_tiers=["starter", "standard"])
    starter = factory.template(price_tier="starter")
    standard = factory.template(price_tier="standard")
    _, tenant = factory.workspace()
    made = [
        factory.instance(
            tenant, starter, name=f"s{n}", status="running", created_at=T0 - timedelta(days=10 - n)
        )
        for n in range(3)
    ]
    made.append(
        factory.instance(
            tenant, standard, name="std", status="running", created_at=T0 - timedelta(days=20)
        )
    )
    _, other = factory.workspace()
    factory.instance(other, starter, name="theirs", status="running")
    for t in (tenant, other):
        in_system(app, lambda s, t=t: setattr(s.get(Tenant, t.id), "plan_id", small.id))
    return {
        "tenant": tenant,
        "other": other,
        "small": small,
        "big": big,
        "by_name": {i.name: i for i in made},
    }


def evaluate(app, tenant, now):
    return in_system(app, lambda s: limits.evaluate(s, s.get(Tenant, tenant.id), now))


def statuses(app, tenant) -> dict[str, str]:
    return {i.name: i.status for i in rows(app, Instance, Instance.tenant_id == tenant.id)}


def mail_kinds(app, tenant) -> list[str]:
    return sorted(e.kind for e in rows(app, Email, Email.tenant_id == tenant.id))


def test_the_grace_period_warns_reminds_then_stops_the_newest_and_excluded_tiers(app, world):
    t = world["tenant"]
    assert evaluate(app, t, T0) == "started"
    assert in_system(app, lambda s: s.get(Tenant, t.id).over_limit_since) == T0
    (mail,) = rows(app, Email, Email.tenant_id == t.id, Email.kind == "billing/over_limit")
    assert "March 4, 2026" in mail.text_body  # PLAN_LIMIT_GRACE_DAYS = 3
    assert evaluate(app, t, T0 + timedelta(days=1)) is None
    assert evaluate(app, t, T0 + timedelta(days=2, hours=1)) == "reminded"
    assert evaluate(app, t, T0 + timedelta(days=2, hours=2)) is None  # reminded once
    assert mail_kinds(app, t) == ["billing/over_limit", "billing/over_limit_reminder"]
    assert set(statuses(app, t).values()) == {"running"}

    assert evaluate(app, t, T0 + timedelta(days=3)) == "stopped"
    assert statuses(app, t) == {
        "s0": "running",
        "s1": "running",
        "s2": "stopping",
        "std": "stopping",
    }
    assert {i.status_reason for i in rows(app, Instance, Instance.status == "stopping")} == {
        "plan_limit"
    }
    assert in_system(app, lambda s: s.get(Tenant, t.id).over_limit_since) is None
    assert "billing/over_limit_stopped" in mail_kinds(app, t)
    assert rows(app, AuditLog, AuditLog.action == "billing.over_limit_enforced")
    assert evaluate(app, t, T0 + timedelta(days=4)) is None  # fits now: nothing more
    assert statuses(app, world["other"]) == {"theirs": "running"}


@pytest.mark.parametrize("how", ["upgrade", "delete"])
def test_an_upgrade_or_deleting_instances_lifts_it_and_nothing_stops(app, world, how):
    t = world["tenant"]
    assert evaluate(app, t, T0) == "started"

    def lift(s):
        if how == "upgrade":
            s.get(Tenant, t.id).plan_id = world["big"].id
        else:
            for name in ("s2", "std"):
                s.get(Instance, world["by_name"][name].id).status = "deleted"

    in_system(app, lift)
    assert evaluate(app, t, T0 + timedelta(days=3)) == "cleared"
    assert "stopping" not in statuses(app, t).values()
    assert in_system(app, lambda s: s.get(Tenant, t.id).over_limit_since) is None


def test_the_owner_picks_during_the_grace_period_and_that_lifts_it(app, world):
    t = world["tenant"]
    evaluate(app, t, T0)
    pick = world["by_name"]

    def stop(ids):
        return in_system(
            app,
            lambda s: limits.stop_over_limit(
                s,
                Workspace(tenant=s.get(Tenant, t.id), role="owner"),
                [str(i.id) for i in ids],
                T0 + timedelta(days=1),
            ),
        )

    with pytest.raises(ValidationFailed, match="tier"):
        stop([pick["s0"], pick["s1"]])  # enough by count, but the standard one stays
    assert stop([pick["s0"], pick["std"]]) == 2
    assert statuses(app, t) == {
        "s0": "stopping",
        "s1": "running",
        "s2": "running",
        "std": "stopping",
    }
    assert in_system(app, lambda s: s.get(Tenant, t.id).over_limit_since) is None
    assert evaluate(app, t, T0 + timedelta(days=3)) is None


def test_the_beat_task_enforces_at_the_deadline_on_stripes_clock(app, world, stripe_emulator):
    t = world["tenant"]
    assert plan_limits() == {"started": 1}  # the bystander fits: not a candidate
    stripe_emulator.advance(days=2, hours=1)
    assert plan_limits() == {"reminded": 1}
    stripe_emulator.advance(hours=23)
    assert plan_limits() == {"stopped": 1}
    assert statuses(app, t)["std"] == "stopping"
    assert plan_limits() == {}


def test_a_downgrade_through_stripe_starts_the_grace_period(
    app, client, factory, plans, stripe_emulator
):
    user, t = factory.workspace()
    login_as(app, client, user)
    paid = httpx.post(checkout_url(app, client, plans["pro"]), data={"card_number": PAYS, **CARD})
    assert paid.status_code == 303
    process(*deliver(client, stripe_emulator))
    assert in_system(app, lambda s: s.get(Tenant, t.id).plan_id) == plans["pro"].id
    for _ in range(3):
        factory.instance(t, status="running")
    in_system(
        app,
        lambda s: subscriptions.change_plan(
            s,
            Workspace(tenant=s.get(Tenant, t.id), role="owner"),
            plans["starter"].id,
            user=s.get(User, user.id),
        ),
    )
    after = in_system(app, lambda s: s.get(Tenant, t.id))
    assert (after.plan_id, after.over_limit_since is not None) == (plans["starter"].id, True)
    assert "billing/over_limit" in mail_kinds(app, t)
