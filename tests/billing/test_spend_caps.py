"""Per-workspace spend caps: 80% warns, 100% stops that workspace's instances and nobody
else's, and a raised cap or a new period starts them again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from railsaas.billing import spend_caps, usage
from railsaas.errors import LimitExceeded
from railsaas.instances import admission as plan_rules
from railsaas.models import Email, Instance, Tenant, UsageMetric
from tests.support import csrf_from, login_as
from tests.support.billing import in_system, rows

NOW = datetime.now(UTC)


@pytest.fixture
def world(app, factory):
    """Workspaces A and B on a plan with a $10 cap, two running instances each."""
    plan = factory.plan(spend_cap_default_cents=1000, included_usage_cents=0, max_instances=5)
    out = {}
    for key in ("A", "B"):
        user, tenant = factory.workspace()
        in_system(app, lambda s, t=tenant: setattr(s.get(Tenant, t.id), "plan_id", plan.id))
        out[key] = {
            "user": user,
            "tenant": tenant,
            "instances": [factory.instance(tenant) for _ in range(2)],
        }
    out["plan"] = plan
    return out


def use(app, ws, egress_gb: float, at: datetime = NOW) -> None:
    """Egress on the workspace's first instance: 5 cents a GB at Railway's price."""
    inst = ws["instances"][0]
    in_system(
        app,
        lambda s: s.add(
            UsageMetric(
                tenant_id=inst.tenant_id,
                instance_id=inst.id,
                metric_type="NETWORK_TX_GB",
                value=Decimal(str(egress_gb)),
                unit="GB",
                recorded_at=at,
            )
        ),
    )


def sweep(app, now: datetime = NOW) -> list:
    def run(s):
        usage.rollup(s)
        return spend_caps.enforce_all(s, now)

    return in_system(app, run)


def statuses(app, ws) -> list[str]:
    ids = [i.id for i in ws["instances"]]
    return sorted(i.status for i in rows(app, Instance, Instance.id.in_(ids)))


def state(app, ws) -> str:
    return in_system(app, lambda s: s.get(Tenant, ws["tenant"].id).spend_cap_state)


def mails(app, ws, kind) -> list[Email]:
    return rows(app, Email, Email.tenant_id == ws["tenant"].id, Email.kind == f"billing/{kind}")


def test_reaching_the_cap_stops_that_workspace_and_nobody_elses(app, client, world):
    use(app, world["A"], 160)  # $8.00 at Railway, $10.40 with the 30% markup
    use(app, world["B"], 10)
    (change,) = sweep(app)
    assert (change.tenant_id, change.after) == (world["A"]["tenant"].id, "capped")
    assert statuses(app, world["A"]) == ["suspended", "suspended"]
    assert statuses(app, world["B"]) == ["running", "running"]
    assert (state(app, world["A"]), state(app, world["B"])) == ("capped", "ok")
    (mail,) = mails(app, world["A"], "spend_capped")
    assert "$10.40" in mail.text_body
    assert "$10.00" in mail.text_body
    assert mails(app, world["B"], "spend_capped") == []
    assert sweep(app) == []  # nothing changes on the next hour

    suspended = rows(app, Instance, Instance.tenant_id == world["A"]["tenant"].id)
    assert {i.status_reason for i in suspended} == {"spend_cap"}
    template = in_system(app, lambda s: s.get(Instance, suspended[0].id).template)
    with pytest.raises(LimitExceeded, match="spend cap"):
        in_system(
            app,
            lambda s: plan_rules.check_can_deploy(
                s, s.get(Tenant, world["A"]["tenant"].id), template
            ),
        )
    in_system(
        app,
        lambda s: plan_rules.check_can_deploy(s, s.get(Tenant, world["B"]["tenant"].id), template),
    )

    login_as(app, client, world["A"]["user"])
    page = client.get("/billing").get_data(as_text=True)
    assert "Spend cap reached" in page


def test_eighty_percent_warns_once(app, world):
    use(app, world["A"], 130)  # $6.50 -> $8.45: over 80% of $10
    sweep(app)
    assert state(app, world["A"]) == "warned"
    assert statuses(app, world["A"]) == ["running", "running"]
    use(app, world["A"], 1, NOW - timedelta(minutes=1))
    sweep(app)
    assert len(mails(app, world["A"], "spend_warning")) == 1


def test_raising_the_cap_starts_the_instances_again(app, client, world):
    use(app, world["A"], 160)
    sweep(app)
    login_as(app, client, world["A"]["user"])
    csrf = csrf_from(client.get("/billing").get_data(as_text=True))
    too_low = client.post("/billing/spend-cap", data={"spend_cap": "0.5", "csrf_token": csrf})
    assert too_low.status_code == 303
    assert state(app, world["A"]) == "capped"
    raised = client.post("/billing/spend-cap", data={"spend_cap": "50", "csrf_token": csrf})
    assert raised.status_code == 303
    assert in_system(app, lambda s: s.get(Tenant, world["A"]["tenant"].id).spend_cap_cents) == 5000
    assert state(app, world["A"]) == "ok"
    assert set(statuses(app, world["A"])) <= {"starting", "running"}
    assert len(mails(app, world["A"], "spend_restored")) == 1
    assert "Spend cap saved" in client.get("/billing").get_data(as_text=True)


def test_an_admin_raising_the_cap_starts_the_instances_at_once(app, world, factory):
    use(app, world["A"], 160)
    sweep(app)
    assert state(app, world["A"]) == "capped"
    admin = factory.user(role="admin")
    client = app.test_client()
    login_as(app, client, admin)
    csrf = csrf_from(client.get("/admin/").get_data(as_text=True))
    tid = world["A"]["tenant"].id
    resp = client.post(
        f"/admin/workspaces/{tid}/spend-cap", data={"spend_cap": "500", "csrf_token": csrf}
    )
    assert resp.status_code in (302, 303)
    assert state(app, world["A"]) == "ok"
    assert set(statuses(app, world["A"])) <= {"starting", "running"}


def test_a_new_period_starts_the_instances_again(app, world):
    last_month = usage.month_of(NOW).start - timedelta(days=3)
    use(app, world["A"], 160, last_month)
    assert sweep(app, last_month)[0].after == "capped"
    (change,) = sweep(app, NOW)
    assert (change.before, change.after) == ("capped", "ok")
    assert set(statuses(app, world["A"])) <= {"starting", "running"}


def test_only_the_owner_sets_the_cap(app, client, world, factory):
    member = factory.user()
    factory.member(world["A"]["tenant"], member, role="admin")
    login_as(app, client, member)
    csrf = csrf_from(client.get("/billing").get_data(as_text=True))
    resp = client.post("/billing/spend-cap", data={"spend_cap": "50", "csrf_token": csrf})
    assert resp.status_code == 403
    assert in_system(app, lambda s: s.get(Tenant, world["A"]["tenant"].id).spend_cap_cents) is None
