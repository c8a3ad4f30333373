"""SVG plots drawn from plain numbers: a histogram, and lines (CDFs, time series).

Pure functions: numbers already in display units in, an ``<svg>`` string out; no I/O,
no external fonts or scripts. Every text is escaped. The root element carries the plot
area and data ranges as ``data-*`` attributes so the page's script can show a readout.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 26, 46  # margins around the plot area
# Okabe-Ito: distinguishable with colour-blindness
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7f7f00", "#000")


@dataclass(frozen=True)
class Series:
    """One line: ``step`` holds each y until the next x."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    step: bool = False


@dataclass(frozen=True)
class Scale:
    """Maps the data interval [lo, hi] onto the pixel interval [p0, p1] (``log``: in
    log10 of the data; lo must then be positive)."""

    lo: float
    hi: float
    p0: float
    p1: float
    log: bool = False

    def __call__(self, v: float) -> float:
        if self.log:
            a, b, v = math.log10(self.lo), math.log10(self.hi), math.log10(max(v, self.lo))
            return self.p0 + (v - a) / (b - a) * (self.p1 - self.p0)
        return self.p0 + (v - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)


def esc(text: object) -> str:
    """Text escaped for SVG/HTML content and quoted attributes."""
    return html.escape(str(text), quote=True)


def nice_step(span: float, count: int = 5) -> float:
    """A 1, 2, 2.5 or 5 x 10^k step giving about ``count`` intervals over ``span``."""
    raw = span / max(count, 1) if span > 0 else 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * mag >= raw * (1 - 1e-9))


def nice_range(lo: float, hi: float, count: int = 5) -> tuple[float, float, float]:
    """``[lo, hi]`` widened to whole steps: (lo, hi, step)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:
        lo, hi = (lo - 0.5, hi + 0.5) if lo == 0 else (lo - abs(lo) * 0.1, hi + abs(hi) * 0.1)
    step = nice_step(hi - lo, count)
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, step


def ticks(lo: float, hi: float, step: float) -> list[float]:
    """Multiples of ``step`` within ``[lo, hi]``."""
    first = math.ceil(lo / step - 1e-9)
    return [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def tick_text(v: float, step: float) -> str:
    """``v`` with as many decimals as ``step`` needs, thousands separated."""
    exponent = math.floor(math.log10(step) + 1e-9)
    mantissa = step / 10.0**exponent
    decimals = max(0, (abs(mantissa - round(mantissa)) > 1e-6) - exponent)  # 2.5 x 10^k
    return f"{0.0 if abs(v) < step * 1e-9 else v:,.{decimals}f}"


def log_ticks(lo: float, hi: float) -> list[float]:
    """1, 2, 5 x 10^k within ``[lo, hi]`` (only powers of ten over more than 2 decades)."""
    mantissas = (1.0,) if hi / lo > 100 else (1.0, 2.0, 5.0)
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    out = [m * 10.0**e for e in range(first, last + 1) for m in mantissas]
    return [v for v in out if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9)]


def log_tick_text(v: float) -> str:
    """``0.5``, ``20``, ``1,000``."""
    return f"{v:,.{max(0, -math.floor(math.log10(v) + 1e-9))}f}"


def histogram_svg(
    edges: Sequence[float],
    counts: Sequence[int],
    *,
    title: str,
    x_label: str,
    y_label: str,
    unit: str,
    note: str = "",
) -> str:
    """Bars over ``edges`` (one more than ``counts``); each bar's tooltip gives its range."""
    x0, x1, xstep = edges[0], edges[-1], nice_step(edges[-1] - edges[0])
    y0, y1, ystep = nice_range(0.0, float(max(counts, default=0)) or 1.0)
    sx, sy = _x_scale(x0, x1), _y_scale(y0, y1)
    xticks = [(v, tick_text(v, xstep)) for v in ticks(x0, x1, xstep)]
    bars = []
    for a, b, n in zip(edges[:-1], edges[1:], counts, strict=False):
        top, left = sy(n), sx(a)
        bars.append(
            f'<rect class="bar" x="{left:.1f}" y="{top:.1f}" '
            f'width="{max(sx(b) - left - 1, 0.5):.1f}" height="{sy(0) - top:.1f}">'
            f"<title>{esc(f'{a:.4g} to {b:.4g} {unit}: {n:,}')}</title></rect>"
        )
    body = [
        _axes(sx, sy, xticks, (y0, y1, ystep), x_label, y_label),
        f'<g class="bars">{"".join(bars)}</g>',
    ]
    if note:
        body.append(f'<text class="note" x="{WIDTH - RIGHT - 4}" y="{TOP + 14}">{esc(note)}</text>')
    return _svg("histogram", title, sx, sy, x_label, "".join(body))


def lines_svg(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    y_range: tuple[float, float] | None = None,
    guides: Sequence[tuple[float, str]] = (),
    legend_at: str = "top",
    x_log: bool = False,
    x_range: tuple[float, float] | None = None,
) -> str:
    """One polyline per series over shared axes, a legend when there are several,
    and dashed horizontal ``guides`` (y, label). The x axis spans the data exactly, or
    ``x_range`` (to line up plots over one time axis); ``x_log`` makes it logarithmic
    when every x is positive."""
    xs = [v for s in series for v in s.x]
    ys = [v for s in series for v in s.y]
    x0, x1 = x_range or (min(xs, default=0.0), max(xs, default=1.0))
    x_log = x_log and x0 > 0
    if x1 <= x0:
        x0, x1 = (x0 / 2, x1 * 2) if x_log else (x0 - 0.5, x1 + 0.5)
    if y_range is None:
        y0, y1, ystep = nice_range(0.0, max(ys, default=0.0) or 1.0)
    else:
        y0, y1 = y_range
        ystep = nice_step(y1 - y0)
    sx, sy = Scale(x0, x1, LEFT, WIDTH - RIGHT, x_log), _y_scale(y0, y1)
    if x_log:
        xticks = [(v, log_tick_text(v)) for v in log_ticks(x0, x1)]
    else:
        step = nice_step(x1 - x0)
        xticks = [(v, tick_text(v, step)) for v in ticks(x0, x1, step)]
    body = [_axes(sx, sy, xticks, (y0, y1, ystep), x_label, y_label)]
    body += [_guide(sx, sy(y), label) for y, label in guides]
    body += [_polyline(s, i, sx, sy) for i, s in enumerate(series)]
    if not xs:
        body.append(f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}">no data</text>')
    if len(series) > 1:
        body.append(_legend(series, legend_at))
    body.append(
        f'<g class="hover" visibility="hidden"><line class="cursor" x1="0" x2="0" '
        f'y1="{TOP}" y2="{HEIGHT - BOTTOM}"/><text class="readout" x="{LEFT}" y="{TOP - 9}"/></g>'
    )
    return _svg("lines", title, sx, sy, x_label, "".join(body))


def _x_scale(lo: float, hi: float) -> Scale:
    return Scale(lo, hi if hi > lo else lo + 1.0, LEFT, WIDTH - RIGHT)


def _y_scale(lo: float, hi: float) -> Scale:
    return Scale(lo, hi if hi > lo else lo + 1.0, HEIGHT - BOTTOM, TOP)


def _svg(kind: str, title: str, sx: Scale, sy: Scale, x_label: str, body: str) -> str:
    data = (
        f'data-left="{LEFT}" data-right="{WIDTH - RIGHT}" data-top="{TOP}" '
        f'data-bottom="{HEIGHT - BOTTOM}" data-x0="{sx.lo:.6g}" data-x1="{sx.hi:.6g}" '
        f'data-y0="{sy.lo:.6g}" data-y1="{sy.hi:.6g}" data-xlog="{int(sx.log)}" '
        f'data-xlabel="{esc(x_label)}"'
    )
    return (
        f'<svg class="plot {kind}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(title)}" {data}>'
        f"<title>{esc(title)}</title>{body}</svg>"
    )


def _axes(
    sx: Scale,
    sy: Scale,
    xt: Sequence[tuple[float, str]],
    yt: tuple[float, float, float],
    x_label: str,
    y_label: str,
) -> str:
    bottom, left = sy.p0, sx.p0
    yv = ticks(*yt)
    out = ['<g class="grid">']
    out += [f'<line x1="{left}" x2="{sx.p1}" y1="{sy(v):.1f}" y2="{sy(v):.1f}"/>' for v in yv]
    out.append('</g><g class="axis">')
    for v, text in xt:
        x = sx(v)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}"/>')
        out.append(f'<text class="xt" x="{x:.1f}" y="{bottom + 16}">{esc(text)}</text>')
    for v in yv:
        y = sy(v) + 4
        out.append(f'<text class="yt" x="{left - 6}" y="{y:.1f}">{tick_text(v, yt[2])}</text>')
    out.append(f'<line x1="{left}" x2="{sx.p1}" y1="{bottom}" y2="{bottom}"/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{sy.p1}" y2="{bottom}"/></g>')
    cx, cy = (sx.p0 + sx.p1) / 2, (sy.p0 + sy.p1) / 2
    out.append(f'<text class="xlabel" x="{cx:.1f}" y="{HEIGHT - 8}">{esc(x_label)}</text>')
    out.append(
        f'<text class="ylabel" transform="translate(14 {cy:.1f}) rotate(-90)">{esc(y_label)}</text>'
    )
    return "".join(out)


def _guide(sx: Scale, y: float, label: str) -> str:
    return (
        f'<g class="guide"><line x1="{sx.p0}" x2="{sx.p1}" y1="{y:.1f}" y2="{y:.1f}"/>'
        f'<text x="{sx.p0 + 4}" y="{y - 3:.1f}">{esc(label)}</text></g>'
    )


def _polyline(s: Series, i: int, sx: Scale, sy: Scale) -> str:
    pts: list[tuple[float, float]] = []
    for k, (x, y) in enumerate(zip(s.x, s.y, strict=True)):
        if s.step and k:
            pts.append((sx(x), pts[-1][1]))
        pts.append((sx(x), sy(y)))
    text = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    return (
        f'<polyline class="series" data-series="{i}" data-label="{esc(s.label)}" '
        f'data-step="{int(s.step)}" stroke="{PALETTE[i % len(PALETTE)]}" points="{text}"/>'
    )


def _legend(series: Sequence[Series], at: str) -> str:
    width = 34 + 6.6 * max(len(s.label) for s in series)
    height = 8 + 16 * len(series)
    x = WIDTH - RIGHT - width - 6
    y = TOP + 6 if at == "top" else HEIGHT - BOTTOM - height - 6
    out = [
        f'<g class="legend"><rect class="legend-box" x="{x:.1f}" y="{y}" '
        f'width="{width:.1f}" height="{height}"/>'
    ]
    for i, s in enumerate(series):
        ly = y + 12 + 16 * i
        colour = PALETTE[i % len(PALETTE)]
        out.append(
            f'<g class="legend-item" data-series="{i}" tabindex="0" role="button">'
            f'<line x1="{x + 6:.1f}" x2="{x + 26:.1f}" y1="{ly}" y2="{ly}" stroke="{colour}"/>'
            f'<text x="{x + 30:.1f}" y="{ly + 4}">{esc(s.label)}</text></g>'
        )
    out.append("</g>")
    return "".join(out)
