"""The checker's runs (system context, from railsaas.tasks.uptime).

A minute's run: monitors appear for instances that should answer, up to UPTIME_MAX_PER_RUN
due ones are claimed (their next check moved on in the same short transaction, SKIP LOCKED,
so overlapping runs and several workers never check one twice), probed outside any
transaction with UPTIME_CONCURRENCY at once, and the answers recorded in one transaction.

Incidents: the second consecutive failed check opens one (down_since set) and tells the
workspace (in-app and email); the first good check after it closes it and tells them again.
One failed check alone is a blip, not an incident: no notification.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Instance, UptimeCheck, UptimeMonitor
from railsaas.platform import notifications
from railsaas.uptime import probe

# Statuses whose app should answer. A crashed app is checked (its downtime counts); one
# stopped or suspended on purpose is not.
CHECKED = ("running", "crashed")
INCIDENT_AFTER = 2  # consecutive failed checks
ROLLUP_LOOKBACK_HOURS = 6  # hours re-rolled each run: a missed run or two is caught up


@dataclass(frozen=True)
class Target:
    instance_id: uuid.UUID
    tenant_id: uuid.UUID
    domain: str


_ADD_MONITORS = text("""
INSERT INTO uptime_monitors (instance_id, tenant_id, next_check_at)
SELECT i.id, i.tenant_id, :now FROM instances i
WHERE i.status = ANY(CAST(:checked AS text[])) AND i.domain IS NOT NULL
ON CONFLICT (instance_id) DO NOTHING
""")
# An instance stopped (or deleted) while down: its incident ends without a "back up".
_CLOSE_IDLE = text("""
UPDATE uptime_monitors m SET down_since = NULL, consecutive_failures = 0
FROM instances i
WHERE i.id = m.instance_id AND NOT (i.status = ANY(CAST(:checked AS text[])))
  AND (m.down_since IS NOT NULL OR m.consecutive_failures > 0)
""")
_CLAIM = text("""
UPDATE uptime_monitors m SET next_check_at = :next
FROM instances i
WHERE i.id = m.instance_id AND m.instance_id IN (
    SELECT m2.instance_id FROM uptime_monitors m2
    JOIN instances i2 ON i2.id = m2.instance_id
    WHERE m2.next_check_at <= :now AND i2.status = ANY(CAST(:checked AS text[]))
      AND i2.domain IS NOT NULL
    ORDER BY m2.next_check_at
    LIMIT :limit
    FOR UPDATE OF m2 SKIP LOCKED)
RETURNING m.instance_id, m.tenant_id, i.domain
""")


def claim(session: Session, now: datetime, limit: int, interval: timedelta) -> list[Target]:
    params = {"now": now, "checked": list(CHECKED)}
    session.execute(_ADD_MONITORS, params)
    session.execute(_CLOSE_IDLE, params)
    rows = session.execute(_CLAIM, {**params, "next": now + interval, "limit": limit}).all()
    return [Target(*row) for row in rows]


def record(session: Session, target: Target, result: probe.Result, now: datetime) -> str | None:
    """Store one check and move the monitor's incident state; returns "down" / "up" when an
    incident opened / closed (and the workspace was told)."""
    session.add(
        UptimeCheck(
            tenant_id=target.tenant_id,
            instance_id=target.instance_id,
            checked_at=now,
            up=result.up,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
        )
    )
    mon = session.get(UptimeMonitor, target.instance_id, with_for_update=True)
    if mon is None:
        return None
    mon.last_checked_at, mon.last_up = now, result.up
    mon.last_status_code, mon.last_latency_ms = result.status_code, result.latency_ms
    if result.up:
        mon.consecutive_failures = 0
        if mon.down_since is None:
            return None
        since, mon.down_since = mon.down_since, None
        _tell(session, target, up=True, since=since, now=now)
        return "up"
    mon.consecutive_failures += 1
    if mon.consecutive_failures < INCIDENT_AFTER or mon.down_since is not None:
        return None
    mon.down_since = now
    _tell(session, target, up=False, since=now, now=now, why=result.error)
    return "down"


def _minutes(delta: timedelta) -> str:
    minutes = max(1, round(delta.total_seconds() / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _tell(
    session: Session,
    target: Target,
    *,
    up: bool,
    since: datetime,
    now: datetime,
    why: str | None = None,
) -> None:
    inst = session.get(Instance, target.instance_id)
    if inst is None:
        return
    if up:
        title = f"{inst.name} is back up"
        body = f"It answers again, after about {_minutes(now - since)} down."
    else:
        title = f"{inst.name} is down"
        body = (
            f"Its public address failed two checks in a row"
            f"{f' ({why})' if why else ''}. We will tell you when it is back."
        )
    notifications.notify_tenant(
        session,
        inst.tenant_id,
        kind="instance.up" if up else "instance.down",
        title=title,
        body=body,
        link=f"/instances/{inst.id}",
        email_kind="instances/uptime",
        email_to_user=inst.user_id,
    )


def run(now: datetime | None = None) -> dict[str, int]:
    """One minute's checks. Returns counts (checked, up, down, incidents, recoveries)."""
    cfg = current_app.config
    now = now or datetime.now(UTC)
    interval = timedelta(seconds=int(cfg["UPTIME_INTERVAL_SECONDS"]))
    with db.scope(SYSTEM) as session:
        targets = claim(session, now, int(cfg["UPTIME_MAX_PER_RUN"]), interval)
    results = probe.probe_many(
        [t.domain for t in targets], probe.Options.from_config(cfg), int(cfg["UPTIME_CONCURRENCY"])
    )
    counts = {"checked": len(targets), "up": 0, "down": 0, "incidents": 0, "recoveries": 0}
    checked_at = datetime.now(UTC) if now is None else now
    with db.scope(SYSTEM) as session:
        for target, result in zip(targets, results, strict=True):
            counts["up" if result.up else "down"] += 1
            change = record(session, target, result, checked_at)
            if change == "down":
                counts["incidents"] += 1
            elif change == "up":
                counts["recoveries"] += 1
    return counts


_ROLLUP = text("""
INSERT INTO uptime_hourly AS h (tenant_id, instance_id, hour, checks, up_checks,
                                latency_ms_sum, latency_count, latency_ms_max)
SELECT tenant_id, instance_id, date_trunc('hour', checked_at AT TIME ZONE 'UTC')
           AT TIME ZONE 'UTC',
       count(*), count(*) FILTER (WHERE up), coalesce(sum(latency_ms), 0), count(latency_ms),
       max(latency_ms)
FROM uptime_checks
WHERE checked_at >= :start AND checked_at < :end
GROUP BY 1, 2, 3
ON CONFLICT (tenant_id, instance_id, hour) DO UPDATE SET
    checks = excluded.checks, up_checks = excluded.up_checks,
    latency_ms_sum = excluded.latency_ms_sum, latency_count = excluded.latency_count,
    latency_ms_max = excluded.latency_ms_max
""")


def rollup(session: Session, now: datetime) -> dict[str, int]:
    """Roll the last complete hours' raw checks up (recomputed whole, so a rerun changes
    nothing), then drop raw checks and roll-ups past their retention."""
    cfg = current_app.config
    top = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rolled = (
        session.execute(
            _ROLLUP, {"start": top - timedelta(hours=ROLLUP_LOOKBACK_HOURS), "end": top}
        ).rowcount
        or 0
    )
    raw = session.execute(
        delete(UptimeCheck).where(
            UptimeCheck.checked_at < now - timedelta(hours=int(cfg["UPTIME_RAW_HOURS"]))
        )
    ).rowcount
    hourly = session.execute(
        text("DELETE FROM uptime_hourly WHERE hour < :cut"),
        {"cut": now - timedelta(days=int(cfg["UPTIME_ROLLUP_DAYS"]))},
    ).rowcount
    return {"rolled": rolled, "raw_deleted": raw or 0, "hourly_deleted": hourly or 0}


def monitor_of(session: Session, instance_id: uuid.UUID) -> UptimeMonitor | None:
    return session.scalars(
        select(UptimeMonitor).where(UptimeMonitor.instance_id == instance_id)
    ).first()
