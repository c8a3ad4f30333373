"""The dashboard's plots: inline SVG scatter plots drawn on the server from store rows.

``throughput_latency`` puts each inference run with a throughput and a tail latency at
(latency, throughput), one colour per system; ``over_time`` puts each run at (run time,
value), one line per system x benchmark x scenario. Each plot holds one unit; each run
is one ``<circle class="point" data-run="ID">`` with a tooltip. Every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mlmeter.reporting._plots import (
    BOTTOM,
    HEIGHT,
    LEFT,
    PALETTE,
    RIGHT,
    TOP,
    WIDTH,
    Scale,
    esc,
    log_tick_text,
    log_ticks,
    nice_range,
    nice_step,
    tick_text,
    ticks,
)
from mlmeter.results._model import RunRow

# extra keys holding a tail latency, preferred first, with their factor to milliseconds
_LATENCY_KEYS = tuple(
    (f"{stem}{suffix}", factor)
    for stem in ("p99_latency", "latency_p99", "p99", "p90_latency", "latency_p90", "p90")
    for suffix, factor in (("_ms", 1.0), ("_ns", 1e-6), ("_us", 1e-3), ("_s", 1e3))
)
_TIME_STEPS = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400)


@dataclass(frozen=True)
class Point:
    """One run on a plot."""

    run_id: int
    x: float
    y: float
    text: str  # the tooltip
    valid: bool = True  # INVALID runs are drawn hollow


@dataclass(frozen=True)
class Group:
    """Points drawn in one colour (and joined by a line when the plot says so)."""

    label: str
    points: tuple[Point, ...]


def latency_ms(row: RunRow) -> tuple[str, float] | None:
    """The row's tail latency in ms: ``extra["latency_ms"]["p99"]`` as the store records
    ``mlmeter run`` (else p90), or a flat key such as ``p99_latency_ns``: (name, ms)."""
    nested = row.extra.get("latency_ms")
    if isinstance(nested, dict):
        for key in ("p99", "p90"):
            if _positive(nested.get(key)):
                return key, float(nested[key])
    for key, factor in _LATENCY_KEYS:
        value = row.extra.get(key)
        if isinstance(value, int | float) and _positive(value):
            return key, float(value) * factor
    return None


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def run_time(row: RunRow) -> float | None:
    """When the run happened (``run_at``, else when it was stored), in epoch seconds."""
    for text in (row.run_at, row.recorded_at):
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            continue
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    return None


def throughput_latency(rows: Sequence[RunRow]) -> list[str]:
    """One SVG per throughput unit: inference runs at (tail latency, throughput)."""
    by_unit: dict[str, dict[str, list[Point]]] = {}
    for row in rows:
        lat = latency_ms(row)
        if row.kind != "inference" or not row.higher_is_better or lat is None or not _ok(row):
            continue
        text = f"#{row.id} {row.system} {row.benchmark} {row.scenario}: {row.value:.4g} "
        text += "" if row.valid else "(INVALID) "
        text += f"{row.unit} at {lat[0]} {lat[1]:.4g} ms"
        point = Point(row.id, lat[1], float(row.value or 0.0), text, row.valid)
        by_unit.setdefault(row.unit, {}).setdefault(row.system, []).append(point)
    return [
        scatter_svg(
            _groups(groups),
            title=f"Throughput against latency ({unit})",
            x_label="tail latency (ms)",
            y_label=unit,
            x_log=True,
        )
        for unit, groups in sorted(by_unit.items())
    ]


def over_time(rows: Sequence[RunRow]) -> list[str]:
    """One SVG per unit: every run with a value at (run time, value), one line per
    system x benchmark x scenario."""
    by_unit: dict[str, dict[str, list[Point]]] = {}
    for row in rows:
        when = run_time(row)
        if when is None or not _ok(row):
            continue
        label = " / ".join(p for p in (row.system, row.benchmark, row.scenario) if p)
        text = f"#{row.id} {label}: {row.value:.4g} {row.unit} ({row.run_at or row.recorded_at})"
        text += "" if row.valid else " INVALID"
        point = Point(row.id, when, float(row.value or 0.0), text, row.valid)
        by_unit.setdefault(row.unit, {}).setdefault(label, []).append(point)
    return [
        scatter_svg(
            _groups(groups),
            title=f"Results over time ({unit})",
            x_label="run time (UTC)",
            y_label=unit,
            x_time=True,
            lines=True,
        )
        for unit, groups in sorted(by_unit.items())
    ]


def scatter_svg(
    groups: Sequence[Group],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_log: bool = False,
    x_time: bool = False,
    lines: bool = False,
) -> str:
    """Points over shared axes (``x_log``: log x when all x > 0; ``x_time``: x in epoch
    seconds, labelled as dates), a legend, and lines through each group when ``lines``."""
    xs = [p.x for g in groups for p in g.points]
    ys = [p.y for g in groups for p in g.points]
    sx, xticks = _x_axis(min(xs, default=0.0), max(xs, default=1.0), x_log, x_time)
    y0, y1, ystep = nice_range(min(0.0, min(ys, default=0.0)), max(ys, default=0.0) or 1.0)
    sy = Scale(y0, y1, HEIGHT - BOTTOM, TOP)
    body = [_axes(sx, sy, xticks, [(v, tick_text(v, ystep)) for v in ticks(y0, y1, ystep)])]
    body.append(_labels(sx, sy, x_label, y_label))
    for i, group in enumerate(groups):
        body.append(_group(group, PALETTE[i % len(PALETTE)], sx, sy, lines))
    if groups:
        body.append(_legend(groups))
    return (
        f'<svg class="plot scatter" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{esc(title)}"><title>{esc(title)}</title>{"".join(body)}</svg>'
    )


def _ok(row: RunRow) -> bool:
    return row.value is not None and math.isfinite(row.value)


def _groups(groups: dict[str, list[Point]]) -> list[Group]:
    return [Group(k, tuple(sorted(v, key=lambda p: p.x))) for k, v in sorted(groups.items())]


def _x_axis(lo: float, hi: float, log: bool, time: bool) -> tuple[Scale, list[tuple[float, str]]]:
    log = log and lo > 0
    if hi <= lo:
        lo, hi = (
            (lo / 2, hi * 2) if log else (lo - (60.0 if time else 0.5), hi + (60 if time else 0.5))
        )
    if log:
        lo, hi = lo / 1.25, hi * 1.25
        return Scale(lo, hi, LEFT, WIDTH - RIGHT, True), [
            (v, log_tick_text(v)) for v in log_ticks(lo, hi)
        ]
    pad = (hi - lo) * 0.04
    lo, hi = lo - pad, hi + pad
    if time:
        step = float(next((s for s in _TIME_STEPS if (hi - lo) / s <= 6), _TIME_STEPS[-1]))
        fmt = "%Y-%m-%d" if step >= 86400 else "%m-%d %H:%M"
        marks = [(v, datetime.fromtimestamp(v, UTC).strftime(fmt)) for v in ticks(lo, hi, step)]
        return Scale(lo, hi, LEFT, WIDTH - RIGHT), marks
    step = nice_step(hi - lo)
    return Scale(lo, hi, LEFT, WIDTH - RIGHT), [
        (v, tick_text(v, step)) for v in ticks(lo, hi, step)
    ]


def _axes(sx: Scale, sy: Scale, xt: list[tuple[float, str]], yt: list[tuple[float, str]]) -> str:
    out = ['<g class="grid">']
    out += [f'<line x1="{sx.p0}" x2="{sx.p1}" y1="{sy(v):.1f}" y2="{sy(v):.1f}"/>' for v, _ in yt]
    out.append('</g><g class="axis">')
    for v, text in xt:
        x, y = sx(v), sy.p0
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + 4}"/>')
        out.append(f'<text class="xt" x="{x:.1f}" y="{y + 16}">{esc(text)}</text>')
    for v, text in yt:
        out.append(f'<text class="yt" x="{sx.p0 - 6}" y="{sy(v) + 4:.1f}">{esc(text)}</text>')
    out.append(f'<line x1="{sx.p0}" x2="{sx.p1}" y1="{sy.p0}" y2="{sy.p0}"/>')
    out.append(f'<line x1="{sx.p0}" x2="{sx.p0}" y1="{sy.p1}" y2="{sy.p0}"/></g>')
    return "".join(out)


def _labels(sx: Scale, sy: Scale, x_label: str, y_label: str) -> str:
    cx, cy = (sx.p0 + sx.p1) / 2, (sy.p0 + sy.p1) / 2
    return (
        f'<text class="xlabel" x="{cx:.1f}" y="{HEIGHT - 8}">{esc(x_label)}</text>'
        f'<text class="ylabel" transform="translate(14 {cy:.1f}) rotate(-90)">{esc(y_label)}</text>'
    )


def _group(group: Group, colour: str, sx: Scale, sy: Scale, lines: bool) -> str:
    paint = f'fill="{colour}" stroke="{colour}" color="{colour}"'
    out = [f'<g class="group" data-label="{esc(group.label)}" {paint}>']
    if lines and len(group.points) > 1:
        pts = " ".join(f"{sx(p.x):.1f},{sy(p.y):.1f}" for p in group.points)
        out.append(f'<polyline class="trend" fill="none" points="{pts}"/>')
    for p in group.points:
        out.append(
            f'<circle class="point{"" if p.valid else " invalid"}" data-run="{p.run_id}" '
            f'cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" '
            f'r="4"><title>{esc(p.text)}</title></circle>'
        )
    out.append("</g>")
    return "".join(out)


def _legend(groups: Sequence[Group]) -> str:
    out = ['<g class="legend">']
    for i, group in enumerate(groups[:12]):
        y = TOP + 12 + 14 * i
        out.append(
            f'<circle cx="{WIDTH - RIGHT - 8}" cy="{y - 4}" r="4" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text class="lt" x="{WIDTH - RIGHT - 16}" y="{y}">{esc(group.label)}</text>'
        )
    out.append("</g>")
    return "".join(out)
