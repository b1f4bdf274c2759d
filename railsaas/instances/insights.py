"""What a customer reads about a running instance, straight from Railway: logs and metrics.

Read-only and best effort: when Railway is slow or down the page still renders and says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from markupsafe import Markup

from railsaas import charts
from railsaas.models import Instance
from railsaas.railway import errors as rw
from railsaas.railway import railway_client

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


class RailwayUnavailable(Exception):
    """A read for a page could not be answered (the page says so and renders anyway)."""


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
    try:
        rc = railway_client()
        latest = rc.latest_deployment(inst.railway_environment_id, inst.railway_service_id) \
            if inst.railway_service_id else None
        if latest is None:
            return []
        lines = rc.deployment_logs(latest.id, limit=limit, filter=query)
    except rw.RailwayError as exc:
        raise RailwayUnavailable(str(exc)) from None
    return [{"timestamp": ln.raw_timestamp or ln.timestamp.isoformat(),
             "severity": ln.severity, "message": ln.message} for ln in lines]


def fetch_metrics(inst: Instance, measurements: list[str], start: datetime,
                  end: datetime | None = None) -> dict[str, list[tuple[int, float]]]:
    try:
        series = railway_client().metrics(
            start=start, end=end, project_id=inst.railway_project_id,
            environment_id=inst.railway_environment_id, service_id=inst.railway_service_id,
            measurements=measurements)
    except rw.RailwayError as exc:
        raise RailwayUnavailable(str(exc)) from None
    out: dict[str, list[tuple[int, float]]] = {}
    for s in series:
        out.setdefault(s.measurement, []).extend(
            (int(p.ts.timestamp()), p.value) for p in s.points)
    return out


# --- what the instance page shows ------------------------------------------------------------

def _not_deployed(inst: Instance) -> str | None:
    if inst.status == "deleted":
        return "This instance has been deleted."
    if not inst.railway_project_id or not inst.railway_environment_id:
        return "Nothing to show until the first deploy has started."
    return None


def logs(inst: Instance, *, query: str | None = None, after: str | None = None,
         limit: int = 500) -> LogResult:
    """The newest `limit` lines of the instance's runtime log (oldest first), optionally
    filtered by Railway's filter syntax and only those after the `after` timestamp."""
    reason = _not_deployed(inst)
    if reason:
        return LogResult(error=reason)
    try:
        lines = fetch_logs(inst, query=query, limit=limit)
    except RailwayUnavailable:
        return LogResult(error=UNAVAILABLE)
    if after:
        # Timestamps are RFC 3339 strings; comparing them as strings is what the CLI does.
        lines = [line for line in lines if line["timestamp"] > after]
    return LogResult(lines=lines, last_timestamp=lines[-1]["timestamp"] if lines else after)


def metrics(inst: Instance, window: str) -> list[MetricChart]:
    span = WINDOWS[window]
    reason = _not_deployed(inst)
    if reason:
        return [MetricChart(title=title, unit=unit, error=reason)
                for _, title, unit, _ in MEASUREMENTS]
    try:
        # No end date: "up to now" by Railway's clock.
        series = fetch_metrics(inst, [m for m, *_ in MEASUREMENTS],
                               datetime.now(UTC) - span, None)
    except RailwayUnavailable:
        return [MetricChart(title=title, unit=unit, error=UNAVAILABLE)
                for _, title, unit, _ in MEASUREMENTS]
    return [metric_chart(title, unit, series.get(m, []), scale=scale)
            for m, title, unit, scale in MEASUREMENTS]


def _value(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.3g}"


def metric_chart(title: str, unit: str, series: list[tuple[int, float]], *,
                 scale: float = 1.0) -> MetricChart:
    """Railway's (Unix seconds, value) points, in time order, as a line chart."""
    points = sorted((int(ts), float(v) * scale) for ts, v in series)
    if not points:
        return MetricChart(title=title, unit=unit)
    span = points[-1][0] - points[0][0]
    when = "%H:%M" if span <= 86400 else "%b %d"
    labels = [datetime.fromtimestamp(ts, UTC).strftime(when) for ts, _ in points]
    svg = charts.line(labels, [charts.Series(title, [v for _, v in points])],
                      title=f"{title} ({unit})", fmt=_value, dots=len(points) <= 60)
    return MetricChart(title=title, unit=unit, svg=svg,
                       latest=f"{_value(points[-1][1])} {unit}".strip())
