"""Usage: collected from Railway every hour, rolled up in SQL, priced with our markup.

Raw rows (`usage_metrics`): one per instance, Railway measurement and hour; `recorded_at` is
the start of the hour the usage happened in, `value` is in the units of Railway's `usage`
API: CPU_USAGE in vCPU-minutes, MEMORY_USAGE_GB / DISK_USAGE_GB / BACKUP_USAGE_GB in
GB-minutes, NETWORK_TX_GB in GB. A collection rerun for the same hour keeps Railway's newest
figure (unique key, ON CONFLICT DO UPDATE when the value changed; an equal one writes
nothing), so a late correction within the lookback replaces the old value.

Roll-up (`usage_rollups`): per workspace, UTC day and instance, the summed quantity of each
measurement and what Railway charges us for it. It is incremental and idempotent: a mark
remembers the last `usage_metrics.seq` read (a corrected row takes a new seq); each run
sums again every (workspace, instance, day) that newer rows touch (one set-based,
parallel-capable SELECT), writes those days over the old ones (one INSERT ... ON CONFLICT DO
UPDATE), and moves the mark in the same transaction. Rerunning changes nothing; the cost of a
run is proportional to the days the new rows touch (at most 120 raw rows each). Overage
(billing.overage) then reports only the difference from what was reported.

Billing periods are attributed by UTC day: a period covers the days from the day it starts
up to (not including) the day it ends, so consecutive periods share no day.

Prices: Railway's (per its CLI) are $20 per vCPU-month, $10 per GB-month of memory, $0.15 per
GB-month of disk and backups, $0.05 per GB of egress, a month being 43,200 minutes. The
customer pays that times (1 + USAGE_MARKUP_PERCENT / 100).
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from railsaas import versions
from railsaas.models import Instance, Subscription, UsageMetric, UsageRollup
from railsaas.models.billing import SUBSCRIPTION_LIVE

MINUTES_PER_MONTH = 43_200
RAILWAY_CENTS_PER_UNIT: dict[str, Decimal] = {
    "CPU_USAGE": Decimal(2000) / MINUTES_PER_MONTH,
    "MEMORY_USAGE_GB": Decimal(1000) / MINUTES_PER_MONTH,
    "DISK_USAGE_GB": Decimal(15) / MINUTES_PER_MONTH,
    "BACKUP_USAGE_GB": Decimal(15) / MINUTES_PER_MONTH,
    "NETWORK_TX_GB": Decimal(5),
}
UNITS = {
    "CPU_USAGE": "vCPU-min",
    "MEMORY_USAGE_GB": "GB-min",
    "DISK_USAGE_GB": "GB-min",
    "BACKUP_USAGE_GB": "GB-min",
    "NETWORK_TX_GB": "GB",
}
# How each metric reads on a page: label, unit shown, divisor from the stored unit.
DISPLAY = {
    "CPU_USAGE": ("CPU", "vCPU-hours", 60),
    "MEMORY_USAGE_GB": ("Memory", "GB-hours", 60),
    "DISK_USAGE_GB": ("Disk", "GB-hours", 60),
    "BACKUP_USAGE_GB": ("Backups", "GB-hours", 60),
    "NETWORK_TX_GB": ("Egress", "GB", 1),
}
LIVE_STATUSES = SUBSCRIPTION_LIVE  # a workspace with a live subscription has its plan
ROLLUP = "daily"


# --- prices -----------------------------------------------------------------------------------


def price_cents(railway_cost_cents: Decimal | float | int, markup_percent: int) -> int:
    """What the customer pays for usage Railway charges us this much for: marked up, and
    rounded up to a whole cent."""
    cost = Decimal(str(railway_cost_cents)) * (Decimal(100 + markup_percent) / 100)
    # Unit prices are stored to 10 decimal places (a vCPU-minute is 2000/43200 cents), so an
    # exact $20.00 may add up to 2000.0000000003: drop that dust before rounding up, or the
    # customer pays a cent too much.
    cost = cost.quantize(Decimal("0.000001"))
    return int(cost.to_integral_value(rounding=ROUND_CEILING)) if cost > 0 else 0


# --- collection -------------------------------------------------------------------------------


def hours_to_collect(now: datetime, lookback_hours: int = 3) -> list[datetime]:
    """The last complete hours, oldest first: a missed run is caught up by the next."""
    top = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [top - timedelta(hours=h) for h in range(lookback_hours, 0, -1)]


def collect(session: Session, railway, start: datetime, end: datetime) -> int:
    """Ask Railway for the usage of every instance over [start, end) (one request: grouped
    by project, deleted projects included) and store it at `start`. Returns rows inserted."""
    instances = session.execute(
        select(Instance.id, Instance.tenant_id, Instance.railway_project_id).where(
            Instance.railway_project_id.isnot(None),
            or_(
                Instance.status != "deleted",
                Instance.deleted_at.is_(None),
                Instance.deleted_at >= start,
            ),
            Instance.created_at < end,
        )
    ).all()
    if not instances:
        return 0
    owner = {project: (iid, tid) for iid, tid, project in instances}
    totals: dict[tuple[uuid.UUID, uuid.UUID, str], float] = defaultdict(float)
    for value in railway.usage(
        start=start,
        end=end,
        group_by=("PROJECT_ID",),
        measurements=tuple(RAILWAY_CENTS_PER_UNIT),
        include_deleted=True,
    ):
        hit = owner.get(value.project_id)
        if hit is None or not value.value or value.measurement not in UNITS:
            continue  # another project in the Railway workspace, or nothing used
        totals[(hit[0], hit[1], value.measurement)] += value.value
    rows = [
        {
            "tenant_id": tid,
            "instance_id": iid,
            "metric_type": m,
            "recorded_at": start,
            "value": Decimal(str(round(v, 6))),
            "unit": UNITS[m],
        }
        for (iid, tid, m), v in totals.items()
        if round(v, 6) > 0
    ]
    if not rows:
        return 0
    stmt = insert(UsageMetric).values(rows)
    # Railway's figure for an hour can still change (late samples): the newest one wins, and
    # a changed row takes a new seq so the roll-up recomputes its day. An equal one is left
    # alone, so a rerun changes nothing.
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "instance_id", "metric_type", "recorded_at"],
        set_={"value": stmt.excluded.value, "seq": text("DEFAULT")},
        where=UsageMetric.value != stmt.excluded.value,
    ).returning(UsageMetric.seq)
    return len(session.execute(stmt).all())


# --- roll-up ----------------------------------------------------------------------------------

# The roll-up's column for each measurement (one row per workspace, day and instance).
METRIC_COLUMNS = {
    "CPU_USAGE": "cpu_vcpu_minutes",
    "MEMORY_USAGE_GB": "memory_gb_minutes",
    "DISK_USAGE_GB": "disk_gb_minutes",
    "BACKUP_USAGE_GB": "backup_gb_minutes",
    "NETWORK_TX_GB": "egress_gb",
}
_COLS = list(METRIC_COLUMNS.values())

_LOCK_MARK = text(
    "INSERT INTO usage_rollup_marks (name, last_seq) VALUES (:name, 0) "
    "ON CONFLICT (name) DO NOTHING"
)
_READ_MARK = text("SELECT last_seq FROM usage_rollup_marks WHERE name = :name FOR UPDATE")
_UPTO = text("SELECT max(seq) FROM usage_metrics")
# Step 1, the aggregate: a plain SELECT, so PostgreSQL may run it in parallel (an INSERT ...
# SELECT never is). Every (workspace, instance, day) that a new or corrected row touches is
# summed again from all its rows (at most 24 hours x 5 measurements), so a corrected hour
# replaces its old value instead of being added twice.
_AGGREGATE = text("""
CREATE TEMP TABLE usage_rollup_batch ON COMMIT DROP AS
WITH touched AS (
    SELECT DISTINCT tenant_id, instance_id, (recorded_at AT TIME ZONE 'UTC')::date AS day
    FROM usage_metrics WHERE seq > :after AND seq <= :upto
)
SELECT um.tenant_id, t.day, um.instance_id,
       coalesce(sum(um.value) FILTER (WHERE um.metric_type = 'CPU_USAGE'), 0)
           AS cpu_vcpu_minutes,
       coalesce(sum(um.value) FILTER (WHERE um.metric_type = 'MEMORY_USAGE_GB'), 0)
           AS memory_gb_minutes,
       coalesce(sum(um.value) FILTER (WHERE um.metric_type = 'DISK_USAGE_GB'), 0)
           AS disk_gb_minutes,
       coalesce(sum(um.value) FILTER (WHERE um.metric_type = 'BACKUP_USAGE_GB'), 0)
           AS backup_gb_minutes,
       coalesce(sum(um.value) FILTER (WHERE um.metric_type = 'NETWORK_TX_GB'), 0)
           AS egress_gb
FROM touched t
JOIN usage_metrics um ON um.tenant_id = t.tenant_id AND um.instance_id = t.instance_id
     AND um.recorded_at >= (t.day::timestamp AT TIME ZONE 'UTC')
     AND um.recorded_at < ((t.day + 1)::timestamp AT TIME ZONE 'UTC')
     AND um.seq <= :upto
GROUP BY 1, 2, 3
""")
# Step 2, the upsert: the recomputed day replaces what the roll-up had (cost is linear, so
# pricing the sums is exact).
_UPSERT = text("""
INSERT INTO usage_rollups AS r (tenant_id, day, instance_id, cpu_vcpu_minutes,
    memory_gb_minutes, disk_gb_minutes, backup_gb_minutes, egress_gb, cost_cents)
SELECT tenant_id, day, instance_id, cpu_vcpu_minutes, memory_gb_minutes, disk_gb_minutes,
       backup_gb_minutes, egress_gb,
       cpu_vcpu_minutes * CAST(:cpu AS numeric) + memory_gb_minutes * CAST(:memory AS numeric)
       + disk_gb_minutes * CAST(:disk AS numeric) + backup_gb_minutes * CAST(:backup AS numeric)
       + egress_gb * CAST(:egress AS numeric)
FROM usage_rollup_batch
ON CONFLICT (tenant_id, day, instance_id) DO UPDATE SET
    cpu_vcpu_minutes = excluded.cpu_vcpu_minutes,
    memory_gb_minutes = excluded.memory_gb_minutes,
    disk_gb_minutes = excluded.disk_gb_minutes,
    backup_gb_minutes = excluded.backup_gb_minutes,
    egress_gb = excluded.egress_gb,
    cost_cents = excluded.cost_cents,
    updated_at = now()
""")
_MOVE_MARK = text(
    "UPDATE usage_rollup_marks SET last_seq = :upto, updated_at = now() WHERE name = :name"
)


@dataclass(frozen=True)
class RollupRun:
    after: int  # last seq read before this run
    upto: int  # last seq read now
    groups: int  # roll-up rows inserted or added to


def rollup(session: Session) -> RollupRun:
    """Fold usage_metrics rows newer than the mark into usage_rollups (system context).

    Serialised by the mark's row lock. `LOCK ... IN SHARE MODE` waits for transactions still
    inserting usage (they hold ROW EXCLUSIVE) and holds new ones back until we commit, so
    every seq up to max(seq) is committed and visible: a row whose seq was drawn earlier but
    committed later can never slip behind the mark."""
    session.execute(_LOCK_MARK, {"name": ROLLUP})
    after = session.execute(_READ_MARK, {"name": ROLLUP}).scalar_one()
    session.execute(text("LOCK TABLE usage_metrics IN SHARE MODE"))
    upto = session.execute(_UPTO).scalar() or 0
    if upto <= after:
        return RollupRun(after, after, 0)
    # Enough memory for the aggregate's hash table, for this transaction only.
    session.execute(text("SET LOCAL work_mem = '64MB'"))
    session.execute(_AGGREGATE, {"after": after, "upto": upto})
    price = {m: round(c, 10) for m, c in RAILWAY_CENTS_PER_UNIT.items()}
    result = session.execute(
        _UPSERT,
        {
            "cpu": price["CPU_USAGE"],
            "memory": price["MEMORY_USAGE_GB"],
            "disk": price["DISK_USAGE_GB"],
            "backup": price["BACKUP_USAGE_GB"],
            "egress": price["NETWORK_TX_GB"],
        },
    )
    session.execute(text("DROP TABLE usage_rollup_batch"))
    session.execute(_MOVE_MARK, {"name": ROLLUP, "upto": upto})
    versions.touch_usage(session)  # the dashboards' cached spend is stale after the commit
    return RollupRun(after, upto, result.rowcount or 0)


# --- periods ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    from_subscription: bool

    @property
    def start_day(self) -> date:
        return self.start.astimezone(UTC).date()

    @property
    def end_day(self) -> date:
        return max(self.end.astimezone(UTC).date(), self.start_day + timedelta(days=1))

    def days(self) -> list[date]:
        """The UTC days the period covers (see the module docstring)."""
        return [
            self.start_day + timedelta(days=i) for i in range((self.end_day - self.start_day).days)
        ]


def month_of(now: datetime) -> Period:
    now = now.astimezone(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return Period(start, end, False)


def live_subscription(session: Session, tenant_id: uuid.UUID) -> Subscription | None:
    return session.scalars(
        select(Subscription)
        .where(Subscription.tenant_id == tenant_id, Subscription.status.in_(LIVE_STATUSES))
        .order_by(Subscription.created_at.desc())
        .limit(1)
    ).first()


def current_period(session: Session, tenant_id: uuid.UUID, now: datetime) -> Period:
    """The live subscription's billing period; the calendar month without one."""
    return period_of(live_subscription(session, tenant_id), now)


def period_of(sub: Subscription | None, now: datetime) -> Period:
    """current_period for a page that has read the newest live subscription already (or
    found none live): `sub`'s period if it is live and has one, else the calendar month."""
    if (
        sub is not None
        and sub.status in LIVE_STATUSES
        and sub.current_period_start
        and sub.current_period_end
    ):
        return Period(sub.current_period_start, sub.current_period_end, True)
    return month_of(now)


# --- reading usage ----------------------------------------------------------------------------


@dataclass
class InstanceUsage:
    instance_id: uuid.UUID
    name: str
    status: str
    cost_cents: Decimal  # Railway's cost
    quantities: dict[str, Decimal]

    def price(self, markup_percent: int) -> int:
        return price_cents(self.cost_cents, markup_percent)


@dataclass
class TenantUsage:
    period: Period
    instances: list[InstanceUsage]
    markup_percent: int
    included_cents: int

    @property
    def cost_cents(self) -> Decimal:
        return sum((i.cost_cents for i in self.instances), Decimal(0))

    @property
    def spend_cents(self) -> int:
        """Usage this period at the customer's prices."""
        return price_cents(self.cost_cents, self.markup_percent)

    @property
    def overage_cents(self) -> int:
        return max(0, self.spend_cents - self.included_cents)

    def totals(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for inst in self.instances:
            for metric, qty in inst.quantities.items():
                out[metric] += qty
        return dict(out)


def tenant_usage(
    session: Session,
    tenant_id: uuid.UUID,
    period: Period,
    *,
    markup_percent: int,
    included_cents: int = 0,
) -> TenantUsage:
    """Per instance: quantities and Railway cost in the period (one query on the roll-up)."""
    columns = [func.sum(getattr(UsageRollup, col)) for col in _COLS]
    rows = session.execute(
        select(UsageRollup.instance_id, func.sum(UsageRollup.cost_cents), *columns)
        .where(
            UsageRollup.tenant_id == tenant_id,
            UsageRollup.day >= period.start_day,
            UsageRollup.day < period.end_day,
        )
        .group_by(UsageRollup.instance_id)
    ).all()
    used = {r[0] for r in rows}
    shown = Instance.status != "deleted"
    if used:
        shown = or_(shown, Instance.id.in_(used))  # deleted, but used this period
    by_instance = {
        iid: InstanceUsage(iid, name, status, Decimal(0), {})
        for iid, name, status in session.execute(
            select(Instance.id, Instance.name, Instance.status).where(
                Instance.tenant_id == tenant_id, shown
            )
        ).all()
    }
    for iid, cost, *quantities in rows:
        inst = by_instance.setdefault(
            iid, InstanceUsage(iid, "(deleted)", "deleted", Decimal(0), {})
        )
        inst.cost_cents += cost or 0
        for metric, qty in zip(METRIC_COLUMNS, quantities, strict=True):
            if qty:
                inst.quantities[metric] = qty
    ordered = sorted(by_instance.values(), key=lambda i: (-i.cost_cents, i.name))
    return TenantUsage(period, ordered, markup_percent, included_cents)


def spend_by_tenant(
    session: Session, now: datetime, markup_percent: int
) -> dict[uuid.UUID, tuple[int, Period]]:
    """Every workspace's spend in its own current period, in one statement: the live
    subscription's period where there is one, else the calendar month of `now`."""
    month = month_of(now)
    rows = session.execute(
        text("""
        WITH live AS (
            SELECT DISTINCT ON (s.tenant_id) s.tenant_id, s.current_period_start AS ps,
                   s.current_period_end AS pe
            FROM subscriptions s
            WHERE s.status = ANY(CAST(:live AS text[]))
              AND s.current_period_start IS NOT NULL AND s.current_period_end IS NOT NULL
            ORDER BY s.tenant_id, s.created_at DESC
        ), periods AS (
            SELECT t.id AS tenant_id,
                   coalesce(l.ps, CAST(:month_start AS timestamptz)) AS ps,
                   coalesce(l.pe, CAST(:month_end AS timestamptz)) AS pe,
                   l.tenant_id IS NOT NULL AS from_sub
            FROM tenants t LEFT JOIN live l ON l.tenant_id = t.id
            WHERE t.status <> 'deleted'
        )
        SELECT p.tenant_id, p.ps, p.pe, p.from_sub, sum(r.cost_cents) AS cost
        FROM periods p
        JOIN usage_rollups r ON r.tenant_id = p.tenant_id
             AND r.day >= (p.ps AT TIME ZONE 'UTC')::date
             AND r.day < greatest((p.pe AT TIME ZONE 'UTC')::date,
                                  (p.ps AT TIME ZONE 'UTC')::date + 1)
        GROUP BY p.tenant_id, p.ps, p.pe, p.from_sub
    """),
        {"live": list(LIVE_STATUSES), "month_start": month.start, "month_end": month.end},
    ).all()
    return {
        tid: (price_cents(cost or 0, markup_percent), Period(ps, pe, from_sub))
        for tid, ps, pe, from_sub, cost in rows
    }


def display_quantity(metric: str, quantity: Decimal | float) -> tuple[str, str]:
    """(label, "12.5 vCPU-hours") for a page."""
    label, unit, divisor = DISPLAY.get(metric, (metric, UNITS.get(metric, ""), 1))
    value = float(quantity) / divisor
    shown = f"{value:,.2f}" if value < 1000 else f"{math.floor(value):,}"
    return label, f"{shown} {unit}"


def usage_dict(usage: TenantUsage) -> dict[str, Any]:
    """The JSON shape of a workspace's usage (the API and the page's numbers)."""
    return {
        "period_start": usage.period.start.isoformat(),
        "period_end": usage.period.end.isoformat(),
        "currency": "usd",
        "markup_percent": usage.markup_percent,
        "usage_cents": usage.spend_cents,
        "included_cents": usage.included_cents,
        "overage_cents": usage.overage_cents,
        "totals": {m: float(q) for m, q in sorted(usage.totals().items())},
        "units": {m: UNITS.get(m, "") for m in sorted(usage.totals())},
        "instances": [
            {
                "id": str(i.instance_id),
                "name": i.name,
                "status": i.status,
                "cost_cents": i.price(usage.markup_percent),
                "usage": {m: float(q) for m, q in sorted(i.quantities.items())},
            }
            for i in usage.instances
        ],
    }
