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
    WHERE instance_id = ANY(CAST(:ids AS uuid[])) AND checked_at >= :cutoff
      AND checked_at <= :now
    UNION ALL
    SELECT instance_id, hour, checks, up_checks FROM uptime_hourly
    WHERE instance_id = ANY(CAST(:ids AS uuid[])) AND hour >= :since AND hour < :cutoff
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


def uptime_by_instance(session: Session, instance_ids: Sequence[uuid.UUID], now: datetime
                       ) -> dict[uuid.UUID, dict[str, Ratio]]:
    """{instance id: {"24h": Ratio, "7d": ..., "30d": ...}} in one query."""
    if not instance_ids:
        return {}
    cutoff = raw_cutoff(now)
    # Whole hours from the roll-up: an hour counts when it started inside the window.
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rows = session.execute(_UPTIME, {
        "ids": [str(i) for i in instance_ids], "cutoff": cutoff, "now": now,
        "since": hour - timedelta(days=30), "d1": now - timedelta(hours=24),
        "d7": hour - timedelta(days=7)}).all()
    empty = {name: Ratio(0, 0) for name, _ in WINDOWS}
    out = {iid: dict(empty) for iid in instance_ids}
    for iid, n1, u1, n7, u7, n30, u30 in rows:
        out[iid] = {"24h": Ratio(int(n1 or 0), int(u1 or 0)),
                    "7d": Ratio(int(n7 or 0), int(u7 or 0)),
                    "30d": Ratio(int(n30 or 0), int(u30 or 0))}
    return out


_LATENCY = text("""
SELECT date_trunc('hour', checked_at AT TIME ZONE 'UTC') AS hour,
       round(avg(latency_ms)) AS avg_ms, max(latency_ms) AS max_ms
FROM uptime_checks
WHERE instance_id = :iid AND checked_at >= :since AND latency_ms IS NOT NULL
GROUP BY 1 ORDER BY 1
""")


def latency_chart(session: Session, instance_id: uuid.UUID, now: datetime):
    """The last 24 hours' latency by hour (average and slowest), as a chart."""
    top = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    hours = [top - timedelta(hours=h) for h in range(23, -1, -1)]
    found = {row.hour: row for row in session.execute(
        _LATENCY, {"iid": instance_id, "since": hours[0].replace(tzinfo=UTC)})}
    avg = [float(found[h].avg_ms) if h in found else None for h in hours]
    slowest = [float(found[h].max_ms) if h in found else None for h in hours]
    return charts.line([h.strftime("%H:00") for h in hours],
                       [charts.Series("Average", avg), charts.Series("Slowest", slowest)],
                       title="Response time, last 24 hours (ms)", dots=False)


@dataclass(frozen=True)
class InstanceUptime:
    monitor: UptimeMonitor | None
    windows: dict[str, Ratio]
    chart: object

    @property
    def state(self) -> str:
        """"up", "down" (an open incident), "failing" (one failed check) or "unknown"."""
        m = self.monitor
        if m is None or m.last_up is None:
            return "unknown"
        if m.down_since is not None:
            return "down"
        return "up" if m.last_up else "failing"


def for_instance(session: Session, inst: Instance, now: datetime | None = None
                 ) -> InstanceUptime:
    """The instance page's uptime section (the caller has read `inst` under RLS)."""
    now = now or datetime.now(UTC)
    monitor = session.get(UptimeMonitor, inst.id)
    windows = uptime_by_instance(session, [inst.id], now)[inst.id]
    return InstanceUptime(monitor, windows, latency_chart(session, inst.id, now))


def set_public(session: Session, tenant_id: uuid.UUID, instance_id: object, public: bool, *,
               actor: HasRole | None) -> UptimeMonitor:
    """Show (or hide) an instance on the workspace's public status page."""
    inst = lifecycle.get_for_tenant(session, tenant_id, instance_id)
    authorize(actor, "instance.manage")
    mon = session.get(UptimeMonitor, inst.id, with_for_update=True)
    if mon is None:
        mon = UptimeMonitor(instance_id=inst.id, tenant_id=tenant_id,
                            next_check_at=datetime.now(UTC), consecutive_failures=0)
        session.add(mon)
    mon.public = public
    audit.record(session, "instance.status_page", target_type="instance", target_id=inst.id,
                 tenant_id=tenant_id, details={"public": public})
    session.flush()
    return mon
