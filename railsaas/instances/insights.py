"""What a customer reads about a running instance, from Railway: logs and metrics.

Read-only and best effort: when Railway is slow or down the page still renders and says so.
Web reads never wait for the rate budget (`RailwayClient.interactive()`: a spent budget is
a "try again" on the page, never a blocked gunicorn thread) and leave a share of it to
deploys and polls.

Logs are fetched once for everyone: one shared, incremental fetch per deployment, at most
every LOG_REFRESH_SECONDS (a Redis key taken with SET NX decides who fetches), asking only
for lines after the newest one kept (`startDate`). The lines live in Redis; every open
logs tab reads them from there, however many there are. The deployment comes from what the
poll last saw (`remember_deployment`), so a logs tab costs no status request either.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from markupsafe import Markup
from redis.exceptions import RedisError

from railsaas import charts
from railsaas.extensions import redis_client
from railsaas.models import Instance
from railsaas.railway import errors as rw
from railsaas.railway import pool

log = logging.getLogger(__name__)

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
# Railway's measurements and how each is shown (MEMORY in GB -> MB reads better).
MEASUREMENTS = (
    ("CPU_USAGE", "CPU", "vCPU", 1.0),
    ("MEMORY_USAGE_GB", "Memory", "MB", 1024.0),
    ("NETWORK_TX_GB", "Network out", "MB", 1024.0),
    ("NETWORK_RX_GB", "Network in", "MB", 1024.0),
)
UNAVAILABLE = "Railway is not answering right now; try again in a moment."
BUSY = "Railway is busy right now; try again in a moment."
# Lines kept per deployment for the shared tail (the page shows the newest 500).
LOG_KEEP = 1000
LOG_TTL_SECONDS = 3600
_PREFIX = "railway:logs"  # under railway:*, with the client's budget and breaker


class RailwayUnavailable(Exception):
    """A read for a page could not be answered (the page says so and renders anyway)."""

    def __init__(self, message: str, busy: bool = False) -> None:
        super().__init__(message)
        self.busy = busy


def _web_client(inst: Instance | None = None):
    """The client of the instance's Railway workspace, as web requests use it."""
    return pool.client_for(inst.railway_workspace_id if inst is not None else None).interactive()


def _unavailable(exc: rw.RailwayError) -> RailwayUnavailable:
    return RailwayUnavailable(str(exc), busy=isinstance(exc, rw.RateLimited))


def remember_deployment(instance_id, deployment_id: str | None) -> None:
    """The poll saw this deployment as the instance's latest: logs tabs read its logs."""
    if not deployment_id:
        return
    try:
        redis_client().set(
            f"{_PREFIX}:latest:{instance_id}", deployment_id, ex=LOG_TTL_SECONDS * 24
        )
    except RedisError as exc:
        log.warning("could not note the latest deployment: %s", exc)


def _deployment_id(inst: Instance) -> str | None:
    """What the poll last saw; else ask Railway once and remember it."""
    key = f"{_PREFIX}:latest:{inst.id}"
    known = redis_client().get(key)
    if known:
        return known
    latest = _web_client(inst).latest_deployment(
        inst.railway_environment_id, inst.railway_service_id
    )
    if latest is None:
        return None
    remember_deployment(inst.id, latest.id)
    return latest.id


def _as_dict(ln) -> dict[str, Any]:
    return {
        "timestamp": ln.raw_timestamp or ln.timestamp.isoformat(),
        "severity": ln.severity,
        "message": ln.message,
    }


def shared_tail(deployment_id: str, inst: Instance | None = None) -> list[dict[str, Any]]:
    """The deployment's newest lines, refreshed for everyone at most every
    LOG_REFRESH_SECONDS by whichever request comes first (incrementally, from the newest
    line kept). Raises RailwayUnavailable when there is nothing yet and Railway cannot
    answer now; with lines kept, a failed refresh just shows them."""
    r = redis_client()
    lines_key, last_key = f"{_PREFIX}:{deployment_id}", f"{_PREFIX}:{deployment_id}:last"
    refresh_ms = max(int(float(current_app.config["LOG_REFRESH_SECONDS"]) * 1000), 50)
    if r.set(f"{_PREFIX}:{deployment_id}:fresh", "1", nx=True, px=refresh_ms):
        last = r.get(last_key)
        try:
            new = _web_client(inst).deployment_logs(deployment_id, since=last, limit=500)
        except rw.RailwayError as exc:
            if not r.exists(lines_key):
                r.delete(f"{_PREFIX}:{deployment_id}:fresh")  # the next request tries
                raise _unavailable(exc) from None
            new = []
        if new:
            pipe = r.pipeline()
            pipe.rpush(lines_key, *(json.dumps(_as_dict(ln)) for ln in new))
            pipe.ltrim(lines_key, -LOG_KEEP, -1)
            pipe.set(last_key, new[-1].raw_timestamp or new[-1].timestamp.isoformat())
            pipe.expire(lines_key, LOG_TTL_SECONDS)
            pipe.expire(last_key, LOG_TTL_SECONDS)
            pipe.execute()
    return [json.loads(x) for x in r.lrange(lines_key, 0, -1)]


@dataclass(frozen=True)
class MetricChart:
    """One measurement on the metrics tab: the SVG (railsaas.charts), or why there is none."""

    title: str
    unit: str
    svg: Markup | None = None  # None: no data in the window
    latest: str = ""
    error: str | None = None


@dataclass
class LogResult:
    lines: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    last_timestamp: str | None = None


# --- the reads from Railway -------------------------------------------------------------------


def fetch_logs(inst: Instance, *, query: str | None, limit: int) -> list[dict[str, Any]]:
    """The tail everyone shares; a filter or a long download asks Railway directly."""
    if not inst.railway_service_id:
        return []
    try:
        deployment_id = _deployment_id(inst)
        if deployment_id is None:
            return []
        if query is None and limit <= 500:
            return shared_tail(deployment_id, inst)[-limit:]
        lines = _web_client(inst).deployment_logs(deployment_id, limit=limit, filter=query)
    except rw.RailwayError as exc:
        raise _unavailable(exc) from None
    except RedisError as exc:
        raise RailwayUnavailable(f"log cache unavailable: {exc}") from None
    return [_as_dict(ln) for ln in lines]


def fetch_metrics(
    inst: Instance, measurements: list[str], start: datetime, end: datetime | None = None
) -> dict[str, list[tuple[int, float]]]:
    try:
        series = _web_client(inst).metrics(
            start=start,
            end=end,
            project_id=inst.railway_project_id,
            environment_id=inst.railway_environment_id,
            service_id=inst.railway_service_id,
            measurements=measurements,
        )
    except rw.RailwayError as exc:
        raise _unavailable(exc) from None
    out: dict[str, list[tuple[int, float]]] = {}
    for s in series:
        out.setdefault(s.measurement, []).extend((int(p.ts.timestamp()), p.value) for p in s.points)
    return out


# --- what the instance page shows ------------------------------------------------------------


def _not_deployed(inst: Instance) -> str | None:
    if inst.status == "deleted":
        return "This instance has been deleted."
    if not inst.railway_project_id or not inst.railway_environment_id:
        return "Nothing to show until the first deploy has started."
    return None


def logs(
    inst: Instance, *, query: str | None = None, after: str | None = None, limit: int = 500
) -> LogResult:
    """The newest `limit` lines of the instance's runtime log (oldest first), optionally
    filtered by Railway's filter syntax and only those after the `after` timestamp."""
    reason = _not_deployed(inst)
    if reason:
        return LogResult(error=reason)
    try:
        lines = fetch_logs(inst, query=query, limit=limit)
    except RailwayUnavailable as exc:
        return LogResult(error=BUSY if exc.busy else UNAVAILABLE)
    if after:
        # Timestamps are RFC 3339 strings; comparing them as strings is what the CLI does.
        lines = [line for line in lines if line["timestamp"] > after]
    return LogResult(lines=lines, last_timestamp=lines[-1]["timestamp"] if lines else after)


def metrics(inst: Instance, window: str) -> list[MetricChart]:
    span = WINDOWS[window]
    reason = _not_deployed(inst)
    if reason:
        return [
            MetricChart(title=title, unit=unit, error=reason) for _, title, unit, _ in MEASUREMENTS
        ]
    try:
        # No end date: "up to now" by Railway's clock.
        series = fetch_metrics(inst, [m for m, *_ in MEASUREMENTS], datetime.now(UTC) - span, None)
    except RailwayUnavailable as exc:
        return [
            MetricChart(title=title, unit=unit, error=BUSY if exc.busy else UNAVAILABLE)
            for _, title, unit, _ in MEASUREMENTS
        ]
    return [
        metric_chart(title, unit, series.get(m, []), scale=scale)
        for m, title, unit, scale in MEASUREMENTS
    ]


def _value(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.3g}"


def metric_chart(
    title: str, unit: str, series: list[tuple[int, float]], *, scale: float = 1.0
) -> MetricChart:
    """Railway's (Unix seconds, value) points, in time order, as a line chart."""
    points = sorted((int(ts), float(v) * scale) for ts, v in series)
    if not points:
        return MetricChart(title=title, unit=unit)
    span = points[-1][0] - points[0][0]
    when = "%H:%M" if span <= 86400 else "%b %d"
    labels = [datetime.fromtimestamp(ts, UTC).strftime(when) for ts, _ in points]
    svg = charts.line(
        labels,
        [charts.Series(title, [v for _, v in points])],
        title=f"{title} ({unit})",
        fmt=_value,
        dots=len(points) <= 60,
    )
    return MetricChart(
        title=title, unit=unit, svg=svg, latest=f"{_value(points[-1][1])} {unit}".strip()
    )
