"""Server-rendered line charts: a series of (unix seconds, value) points -> SVG geometry.

No JavaScript charting library (the CSP allows none inline, and a chart of 60-170 points
needs none): the template draws a <polyline> from `points` and labels the axes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

WIDTH, HEIGHT = 600, 160
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 8, 8, 20


@dataclass
class Chart:
    title: str
    unit: str
    points: str = ""  # "x,y x,y ..." for <polyline points>
    area: str = ""  # closed polygon under the line
    y_max_label: str = "0"
    y_mid_label: str = ""
    x_start_label: str = ""
    x_end_label: str = ""
    latest: str = ""
    empty: bool = True
    error: str | None = None
    width: int = WIDTH
    height: int = HEIGHT
    grid: list[float] = field(default_factory=list)


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _time_label(ts: int, span: int) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%H:%M" if span <= 86400 else "%b %d")


def line_chart(title: str, unit: str, series: list[tuple[int, float]], *,
               scale: float = 1.0) -> Chart:
    chart = Chart(title=title, unit=unit)
    pts = sorted((int(ts), float(v) * scale) for ts, v in series)
    if not pts:
        return chart
    t0, t1 = pts[0][0], pts[-1][0]
    span = max(t1 - t0, 1)
    top = max(v for _, v in pts)
    top = top * 1.1 if top > 0 else 1.0
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def xy(ts: int, v: float) -> tuple[float, float]:
        x = PAD_LEFT + (ts - t0) / span * inner_w if len(pts) > 1 else PAD_LEFT + inner_w / 2
        y = PAD_TOP + inner_h - (max(v, 0.0) / top) * inner_h
        return round(x, 1), round(y, 1)

    coords = [xy(ts, v) for ts, v in pts]
    chart.points = " ".join(f"{x},{y}" for x, y in coords)
    base = PAD_TOP + inner_h
    chart.area = (f"{coords[0][0]},{base} " + chart.points + f" {coords[-1][0]},{base}")
    chart.y_max_label = _fmt(top)
    chart.y_mid_label = _fmt(top / 2)
    chart.x_start_label = _time_label(t0, span)
    chart.x_end_label = _time_label(t1, span)
    chart.latest = f"{_fmt(pts[-1][1])} {unit}".strip()
    chart.grid = [PAD_TOP, PAD_TOP + inner_h / 2, base]
    chart.empty = False
    return chart
