"""Usage roll-ups: set-based, idempotent (a rerun changes nothing), incremental (only rows
newer than the mark are read), never losing a row that commits late; and prices."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from railsaas.billing import usage
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import UsageMetric, UsageRollup
from tests.support import wait_until
from tests.support.billing import in_system

DAY1 = datetime(2026, 11, 2, tzinfo=UTC)


def add_usage(app, inst, metric: str, value, at: datetime) -> None:
    in_system(
        app,
        lambda s: s.add(
            UsageMetric(
                tenant_id=inst.tenant_id,
                instance_id=inst.id,
                metric_type=metric,
                value=Decimal(str(value)),
                unit=usage.UNITS[metric],
                recorded_at=at,
            )
        ),
    )


def snapshot(app) -> list[tuple]:
    return in_system(
        app,
        lambda s: [
            tuple(r)
            for r in s.execute(
                text("SELECT * FROM usage_rollups ORDER BY tenant_id, day, instance_id")
            )
        ],
    )


def truth(app) -> dict[tuple, Decimal]:
    """The plain GROUP BY over every raw row: what the roll-up must equal."""
    return in_system(
        app,
        lambda s: {
            (t, d, i, m): q
            for t, d, i, m, q in s.execute(
                text(
                    "SELECT tenant_id, (recorded_at AT TIME ZONE 'UTC')::date, instance_id,"
                    " metric_type, sum(value) FROM usage_metrics GROUP BY 1, 2, 3, 4"
                )
            )
        },
    )


def rolled(app) -> dict[tuple, Decimal]:
    """The roll-up, one entry per (workspace, day, instance, measurement) used."""
    out = {}
    for row in in_system(app, lambda s: list(s.scalars(select(UsageRollup)))):
        for metric, column in usage.METRIC_COLUMNS.items():
            if getattr(row, column):
                out[(row.tenant_id, row.day, row.instance_id, metric)] = getattr(row, column)
    return out


def rollup(app) -> usage.RollupRun:
    return in_system(app, usage.rollup)


@pytest.fixture
def instances(app, factory):
    _, a = factory.workspace()
    _, b = factory.workspace()
    return factory.instance(a), factory.instance(a), factory.instance(b)


def test_a_rollup_rerun_changes_nothing(app, instances):
    one, two, three = instances
    for hour in range(30):  # a day and a quarter of hourly samples
        at = DAY1 + timedelta(hours=hour)
        add_usage(app, one, "CPU_USAGE", 30, at)
        add_usage(app, one, "MEMORY_USAGE_GB", 15, at)
        add_usage(app, two, "NETWORK_TX_GB", "0.25", at)
        add_usage(app, three, "CPU_USAGE", 60, at)
    first = rollup(app)
    assert first.groups == 6  # 3 instances x 2 days
    before = snapshot(app)
    assert rolled(app) == truth(app)
    again = rollup(app)
    assert (again.groups, again.after, again.upto) == (0, first.upto, first.upto)
    assert snapshot(app) == before  # not even updated_at moved


def test_a_rollup_reads_only_new_rows_and_adds_them_in(app, instances):
    one, _, three = instances
    add_usage(app, one, "CPU_USAGE", 30, DAY1)
    first = rollup(app)
    add_usage(app, one, "CPU_USAGE", 12, DAY1 + timedelta(hours=1))
    add_usage(app, three, "DISK_USAGE_GB", 100, DAY1 + timedelta(days=1))
    second = rollup(app)
    assert second.after == first.upto
    assert second.upto == first.upto + 2
    assert second.groups == 2
    assert rolled(app) == truth(app)
    cpu = rolled(app)[(one.tenant_id, DAY1.date(), one.id, "CPU_USAGE")]
    assert cpu == 42


def test_the_rollup_prices_railway_usage_and_the_markup_is_added_on_top(app, instances):
    one, _, _ = instances
    add_usage(app, one, "CPU_USAGE", usage.MINUTES_PER_MONTH, DAY1)  # one vCPU-month: $20
    add_usage(app, one, "NETWORK_TX_GB", 10, DAY1)  # 10 GB egress: $0.50
    rollup(app)
    (row,) = in_system(app, lambda s: list(s.scalars(select(UsageRollup))))
    assert (row.cpu_vcpu_minutes, row.egress_gb) == (usage.MINUTES_PER_MONTH, 10)
    assert round(row.cost_cents, 4) == 2050
    assert usage.price_cents(Decimal(2050), 30) == 2665
    assert usage.price_cents(Decimal("0.01"), 30) == 1  # a started cent is a cent
    assert usage.price_cents(0, 30) == 0


def test_a_period_counts_the_days_from_its_start_to_its_end(app, instances):
    one, two, three = instances
    for day in range(5):
        add_usage(app, one, "NETWORK_TX_GB", 2, DAY1 + timedelta(days=day, hours=23))
        add_usage(app, three, "NETWORK_TX_GB", 7, DAY1 + timedelta(days=day))
    rollup(app)
    period = usage.Period(
        DAY1 + timedelta(days=1, hours=15), DAY1 + timedelta(days=3, hours=15), True
    )
    got = in_system(
        app,
        lambda s: usage.tenant_usage(
            s, one.tenant_id, period, markup_percent=30, included_cents=10
        ),
    )
    by_name = {i.name: i for i in got.instances}
    assert by_name[one.name].quantities == {"NETWORK_TX_GB": 4}  # days 2 and 3
    assert by_name[two.name].quantities == {}  # listed, with nothing used
    assert got.cost_cents == 20
    assert got.spend_cents == 26
    assert got.overage_cents == 16
    assert three.name not in by_name  # another workspace
    spend = in_system(app, lambda s: usage.spend_by_tenant(s, DAY1, 30))
    assert spend[three.tenant_id][0] == usage.price_cents(Decimal(7 * 5 * 5), 30)


def test_a_row_that_commits_after_a_later_one_is_not_lost(app, committed, committed_factory):
    """Row A draws its seq first but commits last; the roll-up waits for it rather than
    moving its mark past A's seq and skipping A forever."""
    _, tenant = committed_factory.workspace()
    inst = committed_factory.instance(tenant)
    rollup(app)
    slow = db.engines["system"].connect()  # as the worker that records usage
    tx = slow.begin()
    slow.execute(
        UsageMetric.__table__.insert().values(
            tenant_id=inst.tenant_id,
            instance_id=inst.id,
            metric_type="CPU_USAGE",
            value=5,
            unit="vCPU-min",
            recorded_at=DAY1,
        )
    )
    add_usage(app, inst, "CPU_USAGE", 7, DAY1 + timedelta(hours=1))  # later seq, committed
    done = threading.Event()
    result: list = []

    def run():
        result.append(rollup(app))
        done.set()

    worker = threading.Thread(target=run)
    worker.start()
    wait_until(
        lambda: in_system(
            app,
            lambda s: s.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted "
                    "AND relation = 'usage_metrics'::regclass"
                )
            ),
        ),
        message="the roll-up waiting",
    )
    assert not done.is_set(), "the roll-up must wait for the open insert"
    tx.commit()
    slow.close()
    worker.join(30)
    assert done.is_set()
    assert rolled(app) == truth(app)
    total = in_system(app, lambda s: s.scalar(select(func.sum(UsageRollup.cpu_vcpu_minutes))))
    assert total == 12
    with app.app_context(), db.scope(SYSTEM) as s:
        assert usage.rollup(s).groups == 0


# --- collection from Railway (the emulator) ---------------------------------------------------


def test_collection_stores_each_instances_hour_once_and_the_rollup_follows(
    app, factory, railway_emulator
):
    from railsaas.railway import fill_variables, railway_client

    rw = railway_client(app)
    started = datetime.now(UTC)
    projects = {}
    for code in ("postgres", "redis"):
        tpl = rw.template(code)
        project = rw.create_project(f"rs-usage-{code}")
        env = project.environment("production")
        rw.deploy_template(
            tpl.id,
            fill_variables(tpl.serialized_config, {}),
            project_id=project.id,
            environment_id=env.id,
        )
        projects[code] = project
    _, tenant = factory.workspace()
    ours = factory.instance(tenant, railway_project_id=projects["postgres"].id)
    railway_emulator.advance(2 * 3600 + 5)  # both ran for two hours; redis is not ours
    hour = started + timedelta(minutes=1)

    stored = in_system(app, lambda s: usage.collect(s, rw, hour, hour + timedelta(hours=1)))
    assert stored == 4  # CPU, memory, egress and (Postgres has a volume) disk
    raw = in_system(app, lambda s: list(s.scalars(select(UsageMetric))))
    assert {r.instance_id for r in raw} == {ours.id}
    assert {r.recorded_at for r in raw} == {hour}
    by = {r.metric_type: r for r in raw}
    assert 5 < by["MEMORY_USAGE_GB"].value < 30  # 0.15-0.4 GB for 60 minutes
    assert by["CPU_USAGE"].unit == "vCPU-min"

    again = in_system(app, lambda s: usage.collect(s, rw, hour, hour + timedelta(hours=1)))
    assert again == 0
    first = rollup(app)
    assert first.groups == 1
    before = snapshot(app)
    in_system(app, lambda s: usage.collect(s, rw, hour, hour + timedelta(hours=1)))
    assert rollup(app).groups == 0
    assert snapshot(app) == before
    assert rolled(app) == truth(app)
