"""The dashboard's pages as HTML strings, from store rows (every text escaped)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from urllib.parse import quote, urlencode

from mlmeter.dashboard._html import h, link, number, select, table, td, text_input
from mlmeter.dashboard._plots import over_time, throughput_latency
from mlmeter.dashboard._query import DIVISIONS, SCENARIOS
from mlmeter.results._model import KINDS, SOURCES, Delta, RunFilter, RunRow

RUN_HEAD = ("id", "run at", "system", "org", "division", "kind", "benchmark", "scenario",
            "value", "unit", "valid", "source")  # fmt: skip


def run_cells(row: RunRow) -> str:
    """The cells of one run's table row (``RUN_HEAD``)."""
    cells = [f"<td>{link(f'/run/{row.id}', row.id)}</td>", td(row.run_at or row.recorded_at)]
    cells += [td(v) for v in (row.system, row.org, row.division, row.kind, row.benchmark)]
    cells += [td(row.scenario), td(number(row.value), "num"), td(row.unit)]
    cells += [td("yes" if row.valid else "INVALID"), td(row.source)]
    return "".join(cells)


def _tr(row: RunRow, cells: str) -> str:
    cls = "run" if row.valid else "run invalid"
    return f'<tr class="{cls}" data-run="{row.id}">{cells}</tr>'


def filter_form(where: RunFilter, every: Sequence[RunRow]) -> str:
    """The filter controls (GET ``/``), showing ``where``; choices come from ``every``."""

    def seen(attr: str, base: Sequence[str] = ()) -> list[str]:  # fmt: skip
        return [*base, *(getattr(r, attr) for r in every)]

    checked = " checked" if where.valid_only else ""
    controls = [
        select("kind", "kind", KINDS, where.kind),
        select("benchmark", "benchmark", seen("benchmark"), where.benchmark),
        select("scenario", "scenario", seen("scenario", SCENARIOS), where.scenario),
        text_input("system", "system contains", where.system),
        select("division", "division", seen("division", DIVISIONS), where.division),
        select("org", "org", seen("org"), where.org),
        select("source", "source", SOURCES, where.source),
        f'<label>valid only<input type="checkbox" name="valid" value="1"{checked}></label>',
        '<button type="submit">Filter</button>',
        link("/", "clear"),
    ]
    return f'<form id="filter" class="filter" method="get" action="/">{"".join(controls)}</form>'


def runs_page(rows: Sequence[RunRow], where: RunFilter, every: Sequence[RunRow]) -> str:
    """``/``: the filter form, the runs with A/B checkboxes and Compare, and the plots."""
    trs = []
    for row in rows:
        picks = "".join(
            f'<td><input type="checkbox" name="{s}" value="{row.id}" '
            f'aria-label="{s.upper()}: run {row.id}"></td>'
            for s in ("a", "b")
        )
        trs.append(_tr(row, picks + run_cells(row)))
    shown = f'<p class="muted" id="count">{len(rows)} of {len(every)} runs</p>'
    compare = (
        '<form id="compare" method="get" action="/compare">'
        + table(("A", "B", *RUN_HEAD), trs, "runs")
        + '<p><button type="submit">Compare A with B</button> <span id="picked"></span></p></form>'
    )
    return filter_form(where, every) + shown + compare + plots(rows)


def plots(rows: Sequence[RunRow]) -> str:
    """The throughput-latency and over-time plots of ``rows``."""
    figures = [*throughput_latency(rows), *over_time(rows)]
    if not figures:
        return '<h2>Plots</h2><p class="muted">no runs with values to plot</p>'
    inner = "".join(f"<figure><figcaption>{_caption(svg)}</figcaption>{svg}</figure>"
                    for svg in figures)  # fmt: skip
    return f'<h2>Plots</h2><div class="plots">{inner}</div>'


def _caption(svg: str) -> str:
    """The plot's (already escaped) ``<title>`` text."""
    return svg.split("<title>", 1)[1].split("</title>", 1)[0]


def systems_page(rows: Sequence[RunRow]) -> str:
    """``/systems``: each system with its hardware and its results (latest run first)."""
    by_system: dict[str, list[RunRow]] = {}
    for row in rows:
        by_system.setdefault(row.system, []).append(row)
    if not by_system:
        return '<p class="muted">no runs recorded yet</p>'
    return "".join(_system(name, found) for name, found in sorted(by_system.items()))


def _system(name: str, rows: Sequence[RunRow]) -> str:
    first = rows[0]
    orgs = ", ".join(sorted({r.org for r in rows if r.org})) or "-"
    accel = f"{first.accelerators} x {first.accelerator}" if first.accelerator else "CPU only"
    href = "/?" + urlencode({"system": name})
    head = (
        f'<section class="system" data-system="{h(name)}"><h2>{h(name)}</h2>'
        f"<p>org: {h(orgs)}; accelerators: {h(accel)}; {link(href, f'{len(rows)} run(s)')}</p>"
    )
    trs = [_tr(r, run_cells(r)) for r in rows]
    return head + table(RUN_HEAD, trs) + "</section>"


def run_page(row: RunRow, logs: Sequence[str] | None) -> str:
    """``/run/ID``: every field, ``extra`` as JSON, and links to the log files."""
    items = [(k, v) for k, v in asdict(row).items() if k != "extra"]
    fields = "".join(f"<dt>{h(k)}</dt><dd>{h(number(v) if k == 'value' else v)}</dd>"
                     for k, v in items)  # fmt: skip
    extra = h(json.dumps(row.extra, indent=2, sort_keys=True))
    out = f"<dl>{fields}</dl><h2>Extra</h2><pre>{extra}</pre><h2>Logs</h2>"
    if logs is None:
        return out + f'<p class="muted">no log folder at {h(row.path or "(none recorded)")}</p>'
    if not logs:
        return out + '<p class="muted">the log folder holds no files</p>'
    items_html = "".join(
        f"<li>{link(f'/logs/{row.id}/' + quote(name), name)}</li>" for name in logs
    )
    return out + f'<p class="muted">{h(row.path)}</p><ul class="logs">{items_html}</ul>'


def compare_page(a: Sequence[RunRow], b: Sequence[RunRow], deltas: Sequence[Delta]) -> str:
    """``/compare``: both sides' runs next to each other, then one line per delta."""
    sides = "".join(
        f'<div class="side"><h2>{side} ({len(rows)} run(s))</h2>'
        + table(RUN_HEAD, [_tr(r, run_cells(r)) for r in rows])
        + "</div>"
        for side, rows in (("A", a), ("B", b))
    )
    head = ("system", "benchmark", "scenario", "unit", "A", "B", "change", "noise", "verdict")
    return sides + "<h2>Deltas</h2>" + table(head, [_delta(d) for d in deltas], "deltas")


def _delta(d: Delta) -> str:
    values = [td(v) for v in d.key] + [td(d.unit)]
    values += [td(", ".join(number(v) for v in side), "num") for side in (d.a, d.b)]
    values += [td(_percent(d.change), "num"), td(_noise(d.noise), "num")]
    verdict, cls = verdict_of(d)
    return f'<tr class="delta">{"".join(values)}{td(verdict, cls)}</tr>'


def verdict_of(d: Delta) -> tuple[str, str]:
    """What a delta means, and its CSS class: better/worse beyond noise, within noise..."""
    if d.change is None:
        return "one side has no value", "noise"
    if d.significant is False:
        return "within noise", "noise"
    direction = {True: "better", False: "worse", None: "no change"}[d.better]
    if d.significant is None:
        return f"{direction} (noise unknown: no repeat runs)", direction.replace(" ", "-")
    return f"significantly {direction}", direction.replace(" ", "-")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.2f}%"


def _noise(value: float | None) -> str:
    return "unknown" if value is None else f"\u00b1{value * 100:.2f}%"


def error_page(message: str) -> str:
    """The body of a 400/404 page."""
    return f'<p class="error">{h(message)}</p><p>{link("/", "back to the runs")}</p>'
