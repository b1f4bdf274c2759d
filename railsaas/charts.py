"""Server-rendered SVG charts: no JavaScript, no inline styles (the CSP allows neither), and
readable on a 375 px phone. The one way the app draws a chart: the admin metrics, the
dashboards' spend and an instance's metrics all use it.

    from railsaas import charts
    svg = charts.line(["Jan", "Feb", "Mar"], [charts.Series("MRR", [1200, 1900, 2500])],
                      title="MRR", fmt=charts.money)
    {{ svg }}   # in a template: the result is Markup

Each chart is drawn in a 360-unit-wide viewBox and scales to its container (CSS class
`svg-chart`), so text stays legible at phone width and simply grows on a desk. Colours come
from CSS classes `chart-s0` .. `chart-s7` (static/css/app.css), so dark mode and print can
restyle them. Every chart carries a <title> and a <desc> summarising the data for screen
readers; pages should also offer the numbers as a table.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

VIEW_WIDTH = 360
PALETTE_SIZE = 8
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 46, 8, 10, 24
_MAX_X_LABELS = 6


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | int | None]


Formatter = Callable[[float], str]


# --- value formatting -------------------------------------------------------------------------


def number(v: float) -> str:
    a = abs(v)
    if a >= 1_000_000:
        return f"{v / 1_000_000:.1f}M".replace(".0M", "M")
    if a >= 10_000:
        return f"{v / 1000:.0f}k"
    if a >= 1000:
        return f"{v / 1000:.1f}k".replace(".0k", "k")
    if a and a < 10 and v != int(v):
        return f"{v:.1f}"
    return f"{v:.0f}"


def money(cents: float) -> str:
    """Integer cents -> "$1.2k", "$35", "$0.40"."""
    dollars = cents / 100
    sign = "-" if dollars < 0 else ""
    d = abs(dollars)
    if d >= 1000:
        return f"{sign}${number(d)}"
    if d >= 100 or d == int(d):
        return f"{sign}${d:.0f}"
    return f"{sign}${d:.2f}"


def percent(v: float) -> str:
    """A ratio (0.125) -> "12.5%"."""
    return f"{v * 100:.1f}%".replace(".0%", "%")


# --- scales -----------------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round tick values covering [lo, hi] (lo <= 0 <= hi is kept when the data spans 0)."""
    if hi == lo:
        hi = lo + (abs(lo) or 1)
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t < hi + step * 0.999:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _thin(labels: Sequence[str]) -> list[int]:
    """Indexes of the x labels to draw so they never overlap."""
    n = len(labels)
    if n <= _MAX_X_LABELS:
        return list(range(n))
    step = math.ceil(n / _MAX_X_LABELS)
    idx = list(range(0, n, step))
    # The last label (usually "now") always shows: appended when a full step away, otherwise
    # in place of the one before it, which would collide with it.
    if idx[-1] != n - 1:
        if n - 1 - idx[-1] >= step:
            idx.append(n - 1)
        else:
            idx[-1] = n - 1
    return idx


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


class _Frame:
    """Plot area geometry and the y scale shared by the chart kinds."""

    def __init__(self, lo: float, hi: float, height: int) -> None:
        self.ticks = nice_ticks(min(lo, 0), max(hi, 0))
        self.lo, self.hi = self.ticks[0], self.ticks[-1]
        self.height = height
        self.x0, self.x1 = _PAD_LEFT, VIEW_WIDTH - _PAD_RIGHT
        self.y0, self.y1 = height - _PAD_BOTTOM, _PAD_TOP  # y0 is the bottom

    def y(self, v: float) -> float:
        span = (self.hi - self.lo) or 1
        return self.y0 - (v - self.lo) / span * (self.y0 - self.y1)

    def grid(self, fmt: Formatter) -> list[str]:
        out = []
        for t in self.ticks:
            y = _f(self.y(t))
            cls = "chart-axis" if t == 0 else "chart-grid"
            out.append(f'<line class="{cls}" x1="{self.x0}" x2="{self.x1}" y1="{y}" y2="{y}"/>')
            out.append(
                f'<text class="chart-label" x="{self.x0 - 4}" y="{y}" '
                f'text-anchor="end" dominant-baseline="middle">{escape(fmt(t))}</text>'
            )
        return out


def _svg(body: list[str], height: int, title: str, desc: str, kind: str) -> Markup:
    # ids must be unique per page and stable between renders: derive them from the content.
    uid = "c" + hashlib.sha256(f"{kind}|{title}|{desc}|{len(body)}".encode()).hexdigest()[:10]
    # Every piece of text inside went through escape(); the rest is numbers we computed.
    return Markup(  # noqa: S704
        f'<svg class="svg-chart svg-chart-{kind}" viewBox="0 0 {VIEW_WIDTH} {height}" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _legend(names: Sequence[str], y: float) -> tuple[list[str], float]:
    """Legend entries wrapped over as many rows as needed; returns (elements, height)."""
    out, x, row_h = [], float(_PAD_LEFT), 14
    for i, name in enumerate(names):
        label = name if len(name) <= 18 else name[:17] + "…"
        w = 14 + len(label) * 5.6 + 10
        if x + w > VIEW_WIDTH and x > _PAD_LEFT:
            x, y = float(_PAD_LEFT), y + row_h
        out.append(
            f'<rect class="chart-s{i % PALETTE_SIZE}" x="{_f(x)}" y="{_f(y - 8)}" '
            f'width="9" height="9" rx="2"/>'
        )
        out.append(f'<text class="chart-label" x="{_f(x + 13)}" y="{_f(y)}">{escape(label)}</text>')
        x += w
    return out, y + row_h


def _x_labels(frame: _Frame, labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    out = []
    for i in _thin(labels):
        # A label centred on the last point would run off the right edge: end it there.
        anchor = "end" if xs[i] > VIEW_WIDTH - 24 else "middle"
        out.append(
            f'<text class="chart-label" x="{_f(xs[i])}" y="{frame.y0 + 14}" '
            f'text-anchor="{anchor}">{escape(labels[i])}</text>'
        )
    return out


def _describe(labels: Sequence[str], series: Sequence[Series], fmt: Formatter) -> str:
    if not labels:
        return "No data."
    parts = []
    for s in series:
        vals = [v for v in s.values if v is not None]
        if not vals:
            continue
        last = s.values[-1]
        parts.append(
            f"{s.name}: {fmt(last) if last is not None else 'no value'} at "
            f"{labels[-1]}, from {fmt(vals[0])} at {labels[0]}; "
            f"highest {fmt(max(vals))}"
        )
    return ". ".join(parts) + "." if parts else "No data."


def empty(title: str, message: str = "No data yet.") -> Markup:
    body = [
        f'<text class="chart-label chart-empty" x="{VIEW_WIDTH / 2}" y="40" '
        f'text-anchor="middle">{escape(message)}</text>'
    ]
    return _svg(body, 70, title, message, "empty")


# --- chart kinds ------------------------------------------------------------------------------


def line(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    fmt: Formatter = number,
    height: int = 180,
    dots: bool = True,
) -> Markup:
    """One or more lines over shared x labels (months, days). None values leave gaps.
    `dots=False` leaves out the per-point markers (dense time series)."""
    values = [v for s in series for v in s.values if v is not None]
    if not labels or not values:
        return empty(title)
    legend, legend_h = ([], 0.0)
    if len(series) > 1:
        legend, bottom = _legend([s.name for s in series], height + 2)
        legend_h = bottom - height
    frame = _Frame(min(values), max(values), height)
    n = len(labels)
    step = (frame.x1 - frame.x0) / max(n - 1, 1)
    xs = [frame.x0 + i * step if n > 1 else (frame.x0 + frame.x1) / 2 for i in range(n)]
    body = frame.grid(fmt)
    for si, s in enumerate(series):
        cls = f"chart-s{si % PALETTE_SIZE}"
        path, pen_down = [], False
        for i, v in enumerate(s.values[:n]):
            if v is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{_f(xs[i])},{_f(frame.y(v))}")
            pen_down = True
        body.append(f'<path class="chart-line {cls}" d="{" ".join(path)}" fill="none"/>')
        for i, v in enumerate(s.values[:n] if dots else ()):
            if v is not None:
                body.append(
                    f'<circle class="chart-dot {cls}" cx="{_f(xs[i])}" '
                    f'cy="{_f(frame.y(v))}" r="2.5"><title>{escape(s.name)}, '
                    f"{escape(labels[i])}: {escape(fmt(v))}</title></circle>"
                )
    body += _x_labels(frame, labels, xs) + legend
    return _svg(body, int(height + legend_h), title, _describe(labels, series, fmt), "line")


def bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    fmt: Formatter = number,
    height: int = 180,
    stacked: bool = False,
) -> Markup:
    """Vertical bars per label: grouped side by side, or stacked (daily cost by instance).
    Stacked bars expect values >= 0."""
    n = len(labels)
    if not n or not any(v for s in series for v in s.values if v):
        return empty(title)
    if stacked:
        totals = [sum((s.values[i] or 0) for s in series) for i in range(n)]
        lo, hi = 0, max(totals)
    else:
        vals = [v or 0 for s in series for v in s.values]
        lo, hi = min(vals), max(vals)
    legend, legend_h = ([], 0.0)
    if len(series) > 1:
        legend, bottom = _legend([s.name for s in series], height + 2)
        legend_h = bottom - height
    frame = _Frame(lo, hi, height)
    slot = (frame.x1 - frame.x0) / n
    bar_w = slot * 0.7
    xs = [frame.x0 + slot * (i + 0.5) for i in range(n)]
    body = frame.grid(fmt)
    for i in range(n):
        base = 0.0
        for si, s in enumerate(series):
            v = s.values[i] if i < len(s.values) else None
            if not v:
                continue
            cls = f"chart-s{si % PALETTE_SIZE}"
            if stacked:
                top, bottom_v = base + v, base
                base = top
                x, w = xs[i] - bar_w / 2, bar_w
            else:
                top, bottom_v = max(v, 0), min(v, 0)
                w = bar_w / len(series)
                x = xs[i] - bar_w / 2 + si * w
            y_top, y_bottom = frame.y(top), frame.y(bottom_v)
            body.append(
                f'<rect class="chart-bar {cls}" x="{_f(x)}" y="{_f(y_top)}" '
                f'width="{_f(max(w - 0.5, 0.5))}" '
                f'height="{_f(max(y_bottom - y_top, 0.5))}"><title>'
                f"{escape(s.name)}, {escape(labels[i])}: {escape(fmt(v))}"
                f"</title></rect>"
            )
    body += _x_labels(frame, labels, xs) + legend
    return _svg(
        body,
        int(height + legend_h),
        title,
        _describe(labels, series, fmt),
        "stacked" if stacked else "bars",
    )


def hbars(
    rows: Sequence[tuple[str, float]], *, title: str, fmt: Formatter = number, bar_height: int = 18
) -> Markup:
    """Horizontal bars, one per labelled row (rankings: margin per template). Negative
    values extend left of the zero line and get the `chart-negative` class."""
    if not rows:
        return empty(title)
    label_w, value_w = 110, 52
    lo = min(0.0, *(v for _, v in rows))
    hi = max(0.0, *(v for _, v in rows))
    span = (hi - lo) or 1
    x0, x1 = label_w, VIEW_WIDTH - value_w
    zero = x0 + (0 - lo) / span * (x1 - x0)
    height = _PAD_TOP + len(rows) * (bar_height + 6) + 4
    body = [
        f'<line class="chart-axis" x1="{_f(zero)}" x2="{_f(zero)}" y1="{_PAD_TOP - 4}" '
        f'y2="{height - 2}"/>'
    ]
    for i, (label, v) in enumerate(rows):
        y = _PAD_TOP + i * (bar_height + 6)
        x = x0 + (min(v, 0) - lo) / span * (x1 - x0)
        w = abs(v) / span * (x1 - x0)
        cls = "chart-s0" if v >= 0 else "chart-negative"
        name = label if len(label) <= 20 else label[:19] + "…"
        body.append(
            f'<text class="chart-label" x="{label_w - 6}" y="{_f(y + bar_height / 2)}" '
            f'text-anchor="end" dominant-baseline="middle">{escape(name)}</text>'
        )
        body.append(
            f'<rect class="chart-bar {cls}" x="{_f(x)}" y="{y}" '
            f'width="{_f(max(w, 0.5))}" height="{bar_height}"><title>{escape(label)}: '
            f"{escape(fmt(v))}</title></rect>"
        )
        body.append(
            f'<text class="chart-label" x="{VIEW_WIDTH - 2}" y="{_f(y + bar_height / 2)}" '
            f'text-anchor="end" dominant-baseline="middle">{escape(fmt(v))}</text>'
        )
    desc = "; ".join(f"{label}: {fmt(v)}" for label, v in rows[:12])
    return _svg(body, height, title, desc, "hbars")
