"""What the pages show: an instance's uptime over 24 h / 7 d / 30 d, its latency by hour,
its current state, and the per-instance opt-in to the public status page.

Raw checks answer for the last day (they are kept longer, UPTIME_RAW_HOURS), hourly
roll-ups for what is older: the two never overlap, so no check is counted twice."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from railsaas import charts
from railsaas.instances import lifecycle
from railsaas.models import Instance, UptimeMonitor
from railsaas.permissions import HasRole, authorize
from railsaas.platform import audit

WINDOWS = (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("30d", timedelta(days=30)))


def raw_cutoff(now: datetime) -> datetime:
    """Checks at or after this are read raw; hours before it from the roll-up."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=24)


_UPTIME = text("""
WITH checks AS (
    SELECT instance_id, checked_at AS t, 1 AS n, CASE WHEN up THEN 1 ELSE 0 END AS ups
    FROM uptime_checks
    WHERE tenant_id = :tid AND instance_id = ANY(CAST(:ids AS uuid[]))
      AND checked_at >= :cutoff
      AND checked_at <= :now
    UNION ALL
    SELECT instance_id, hour, checks, up_checks FROM uptime_hourly
    WHERE tenant_id = :tid AND instance_id = ANY(CAST(:ids AS uuid[]))
      AND hour >= :since AND hour < :cutoff
)
SELECT instance_id,
       sum(n) FILTER (WHERE t >= :d1), sum(ups) FILTER (WHERE t >= :d1),
       sum(n) FILTER (WHERE t >= :d7), sum(ups) FILTER (WHERE t >= :d7),
       sum(n), sum(ups)
FROM checks GROUP BY instance_id
""")


@dataclass(frozen=True)
class Ratio:
    checks: int
    up: int

    @property
    def ratio(self) -> float | None:
        return self.up / self.checks if self.checks else None

    def __str__(self) -> str:
        r = self.ratio
        if r is None:
            return "no data"
        # Never round a real outage up to "100%".
        return "100%" if self.up == self.checks else f"{min(r * 100, 99.99):.2f}%"


def uptime_by_instance(
    session: Session, tenant_id: uuid.UUID, instance_ids: Sequence[uuid.UUID], now: datetime
) -> dict[uuid.UUID, dict[str, Ratio]]:
    """{instance id: {"24h": Ratio, "7d": ..., "30d": ...}} in one query."""
    if not instance_ids:
        return {}
    cutoff = raw_cutoff(now)
    # Whole hours from the roll-up: an hour counts when it started inside the window.
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rows = session.execute(
        _UPTIME,
        {
            "tid": tenant_id,
            "ids": [str(i) for i in instance_ids],
            "cutoff": cutoff,
            "now": now,
            "since": hour - timedelta(days=30),
            "d1": now - timedelta(hours=24),
            "d7": hour - timedelta(days=7),
        },
    ).all()
    empty = {name: Ratio(0, 0) for name, _ in WINDOWS}
    out = {iid: dict(empty) for iid in instance_ids}
    for iid, n1, u1, n7, u7, n30, u30 in rows:
        out[iid] = {
            "24h": Ratio(int(n1 or 0), int(u1 or 0)),
            "7d": Ratio(int(n7 or 0), int(u7 or 0)),
            "30d": Ratio(int(n30 or 0), int(u30 or 0)),
        }
    return out


@dataclass(frozen=True)
class MonitorState:
    last_up: bool | None
    last_status_code: int | None
    last_latency_ms: int | None
    down_since: datetime | None
    public: bool


@dataclass(frozen=True)
class InstanceUptime:
    monitor: MonitorState | None
    windows: dict[str, Ratio]
    chart: object

    @property
    def state(self) -> str:
        """ "up", "down" (an open incident), "failing" (one failed check) or "unknown"."""
        m = self.monitor
        if m is None or m.last_up is None:
            return "unknown"
        if m.down_since is not None:
            return "down"
        return "up" if m.last_up else "failing"


# The instance page's whole section in one statement: the monitor, the three windows and the
# last day's latency by hour (the page's query budget is shared by every section).
_SECTION = text("""
WITH checks AS (
    SELECT checked_at AS t, 1 AS n, CASE WHEN up THEN 1 ELSE 0 END AS ups
    FROM uptime_checks
    WHERE tenant_id = :tid AND instance_id = :iid AND checked_at >= :cutoff
      AND checked_at <= :now
    UNION ALL
    SELECT hour, checks, up_checks FROM uptime_hourly
    WHERE tenant_id = :tid AND instance_id = :iid AND hour >= :since AND hour < :cutoff
), windows AS (
    SELECT sum(n) FILTER (WHERE t >= :d1) AS n1, sum(ups) FILTER (WHERE t >= :d1) AS u1,
           sum(n) FILTER (WHERE t >= :d7) AS n7, sum(ups) FILTER (WHERE t >= :d7) AS u7,
           sum(n) AS n30, sum(ups) AS u30
    FROM checks
), latency AS (
    SELECT coalesce(json_agg(json_build_array(h, a, x) ORDER BY h), '[]') AS hours FROM (
        SELECT to_char(date_trunc('hour', checked_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24')
                   AS h,
               round(avg(latency_ms)) AS a, max(latency_ms) AS x
        FROM uptime_checks
        WHERE tenant_id = :tid AND instance_id = :iid AND checked_at >= :day
          AND latency_ms IS NOT NULL
        GROUP BY 1) per_hour
)
SELECT m.instance_id IS NOT NULL AS monitored, m.last_up, m.last_status_code,
       m.last_latency_ms, m.down_since, coalesce(m.public, false) AS public,
       w.n1, w.u1, w.n7, w.u7, w.n30, w.u30, l.hours
FROM windows w CROSS JOIN latency l
LEFT JOIN uptime_monitors m ON m.instance_id = :iid
""")


def for_instance(session: Session, inst: Instance, now: datetime | None = None) -> InstanceUptime:
    """The instance page's uptime section (the caller has read `inst` under RLS)."""
    now = now or datetime.now(UTC)
    top = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [top - timedelta(hours=h) for h in range(23, -1, -1)]
    row = session.execute(
        _SECTION,
        {
            "tid": inst.tenant_id,
            "iid": inst.id,
            "cutoff": raw_cutoff(now),
            "now": now,
            "since": top - timedelta(days=30),
            "d1": now - timedelta(hours=24),
            "d7": top - timedelta(days=7),
            "day": hours[0],
        },
    ).one()
    monitor = (
        MonitorState(
            row.last_up, row.last_status_code, row.last_latency_ms, row.down_since, row.public
        )
        if row.monitored
        else None
    )
    windows = {
        "24h": Ratio(int(row.n1 or 0), int(row.u1 or 0)),
        "7d": Ratio(int(row.n7 or 0), int(row.u7 or 0)),
        "30d": Ratio(int(row.n30 or 0), int(row.u30 or 0)),
    }
    found = {h: (a, x) for h, a, x in row.hours}
    keys = [h.strftime("%Y-%m-%d %H") for h in hours]
    chart = charts.line(
        [h.strftime("%H:00") for h in hours],
        [
            charts.Series("Average", [float(found[k][0]) if k in found else None for k in keys]),
            charts.Series("Slowest", [float(found[k][1]) if k in found else None for k in keys]),
        ],
        title="Response time, last 24 hours (ms)",
        dots=False,
    )
    return InstanceUptime(monitor, windows, chart)


def set_public(
    session: Session,
    tenant_id: uuid.UUID,
    instance_id: object,
    public: bool,
    *,
    actor: HasRole | None,
) -> UptimeMonitor:
    """Show (or hide) an instance on the workspace's public status page."""
    inst = lifecycle.get_for_tenant(session, tenant_id, instance_id)
    authorize(actor, "instance.manage")
    mon = session.get(UptimeMonitor, inst.id, with_for_update=True)
    if mon is None:
        mon = UptimeMonitor(
            instance_id=inst.id,
            tenant_id=tenant_id,
            next_check_at=datetime.now(UTC),
            consecutive_failures=0,
        )
        session.add(mon)
    mon.public = public
    audit.record(
        session,
        "instance.status_page",
        target_type="instance",
        target_id=inst.id,
        tenant_id=tenant_id,
        details={"public": public},
    )
    session.flush()
    return mon
