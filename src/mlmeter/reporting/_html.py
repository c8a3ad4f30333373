"""The HTML exporter: one self-contained page (inline CSS, SVG and script; no URLs).

The page shows the summary table of every run, the runs' latency CDFs overlaid, then one
section per run: validity (every rule, failed ones with their message), problems,
accuracy, the latency histogram and CDF, throughput and outstanding queries over time.
The plots are drawn from the ``Report`` alone, the data the JSON exporter writes, which
the page also embeds as ``<script type="application/json" id="report-data">``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mlmeter.reporting._accuracy import AccuracyInfo
from mlmeter.reporting._assets import CSS, JS
from mlmeter.reporting._format import COLUMNS, summary_cells, time_unit
from mlmeter.reporting._model import Report, RunPlots, RunReport
from mlmeter.reporting._plots import Series, esc, histogram_svg, lines_svg
from mlmeter.reporting._power_html import power_section

_NUMERIC = frozenset({"p50", "p90", "p99", "queries", "duration"})
_CDF_GUIDES = ((0.5, "p50"), (0.9, "p90"), (0.99, "p99"))
_LOG_SPREAD = 20.0  # max / min latency above which the comparison's x axis is logarithmic
_PLURAL = {"query": "queries", "sample": "samples"}
_NO_PLOTS = "Plots need per-sample timings: run `mlmeter run ... --trace`."


def render_html(report: Report) -> str:
    """The whole page."""
    runs = report.runs
    title = "mlmeter report: " + ", ".join(r.name for r in runs)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        "<header><h1>mlmeter report</h1>",
        f'<p class="muted">{len(runs)} run{"s" * (len(runs) != 1)}; generated '
        f"{esc(report.generated_utc)} by mlmeter {esc(report.tool_version)}</p></header>",
        "<h2>Summary</h2>",
        summary_table(runs),
        comparison(runs),
        *(run_section(r, i) for i, r in enumerate(runs, start=1)),
        _data_script(report),
        f"<script>{JS}</script></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def summary_table(runs: Sequence[RunReport]) -> str:
    """One row per run; the run name links to its section."""
    head = "".join(f"<th>{esc(h)}</th>" for _, h in COLUMNS)
    rows = []
    for i, r in enumerate(runs, start=1):
        cells = summary_cells(r.summary)
        tds = []
        for key, _ in COLUMNS:
            text = esc(cells[key])
            if key == "run":
                text = f'<a href="#run-{i}">{text}</a>'
            tds.append(f'<td class="{_cell_class(key, r)}">{text}</td>')
        rows.append(f"<tr>{''.join(tds)}</tr>")
    return (
        f'<div class="scroll"><table class="summary"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _cell_class(key: str, r: RunReport) -> str:
    if key == "result":
        return f"result {r.summary.result}"
    if key == "accuracy":
        return f"accuracy {r.summary.accuracy_result}"
    return f"{key} num" if key in _NUMERIC else key


def comparison(runs: Sequence[RunReport]) -> str:
    """The latency CDFs of all runs on one plot, when there are two or more."""
    plotted = [(r.name, r.plots) for r in runs if r.plots is not None]
    if len(runs) < 2:
        return ""
    if len(plotted) < 2:
        return f'<h2>Comparison</h2><p class="note">{esc(_NO_PLOTS)}</p>'
    lo = min((min(p.cdf.x, default=1.0) for _, p in plotted), default=1.0)
    hi = max((max(p.cdf.x, default=1.0) for _, p in plotted), default=1.0)
    unit, scale = time_unit(hi)
    series = [Series(name, [x / scale for x in p.cdf.x], p.cdf.y) for name, p in plotted]
    kinds = sorted({p.latency_kind for _, p in plotted})
    x_log = lo > 0 and hi / lo > _LOG_SPREAD  # runs far apart: compare them on a log axis
    svg = lines_svg(
        series,
        title="Latency CDF of every run",
        x_label=f"{'/'.join(kinds)} latency ({unit}{', log scale' if x_log else ''})",
        y_label="fraction at or below",
        y_range=(0.0, 1.0),
        guides=_CDF_GUIDES,
        legend_at="bottom",
        x_log=x_log,
    )
    return f'<h2>Comparison</h2><div class="plots">{_figure("Latency CDF, all runs", svg)}</div>'


def run_section(r: RunReport, i: int) -> str:
    """Everything about one run."""
    s = r.summary
    badge = f' <span class="{esc(s.result)}">{esc(s.result)}</span>' if s.result else ""
    meta = " · ".join(esc(v) for v in (s.sut, s.scenario, s.mode, r.path))
    parts = [
        f'<section class="run" id="run-{i}"><h2>{esc(r.name)}{badge}</h2>',
        f'<p class="meta">{meta}</p>',
        validity(r),
        problems(r.problems),
        accuracy(r.accuracy),
        *(f'<p class="note">{esc(n)}</p>' for n in r.notes),
        plots(r.name, r.plots),
        power_section(r.name, r.power, r.plots),
        _details("System", r.system),
        _details("Provenance", r.provenance),
        "</section>",
    ]
    return "\n".join(p for p in parts if p)


def validity(r: RunReport) -> str:
    """Every rule with whether it held, then each failed rule and its message."""
    if not r.checks:
        return '<h3>Validity</h3><p class="muted">An accuracy run: no performance rules.</p>'
    rows = "".join(
        f'<tr class="{"met-row" if c.met else "unmet-row"}"><td><code>{esc(c.code)}</code></td>'
        f'<td class="{"met" if c.met else "unmet"}">{"met" if c.met else "NOT met"}</td>'
        f"<td>{esc(c.message)}</td></tr>"
        for c in r.checks
    )
    head = "<tr><th>Rule</th><th>Status</th><th>Detail</th></tr>"
    table = f"<table class='checks'>{head}{rows}</table>"
    if not r.failed_rules:
        return f"<h3>Validity</h3><p class='VALID'>Every rule was met.</p>{table}"
    items = "".join(
        f"<li><code>{esc(c.code)}</code>: {esc(c.message)}</li>" for c in r.failed_rules
    )
    n = len(r.failed_rules)
    return (
        f"<h3>Validity</h3><p class='INVALID'>{n} rule{'s' * (n != 1)} failed:</p>"
        f'<ul class="failed">{items}</ul>{table}'
    )


def problems(p: dict[str, Any]) -> str:
    """Errors, warnings and response counts, when there are any."""
    items = [f"<li class='unmet'>error: {esc(e)}</li>" for e in p.get("errors", [])]
    items += [f"<li>warning: {esc(w)}</li>" for w in p.get("warnings", [])]
    for key in ("missing_samples", "unknown_responses", "duplicate_responses"):
        if p.get(key):
            items.append(f"<li>{esc(key.replace('_', ' '))}: {int(p[key]):,}</li>")
    items += [f"<li>{esc(n)}</li>" for n in p.get("notes", [])]
    return f"<h3>Problems</h3><ul>{''.join(items)}</ul>" if items else ""


def accuracy(acc: AccuracyInfo | None) -> str:
    """The accuracy.txt verdict and its details."""
    if acc is None:
        return ""
    if acc.metric is not None and acc.value is not None:
        head = f"{esc(acc.metric)} = {acc.value:.6g}"
    else:
        head = esc(acc.text)
    verdict = f' <span class="{acc.verdict}">{acc.verdict}</span>' if acc.verdict else ""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in acc.details)
    table = f"<table>{rows}</table>" if rows else ""
    return f"<h3>Accuracy</h3><p>{head}{verdict}</p>{table}"


def plots(name: str, p: RunPlots | None) -> str:
    """Histogram, CDF, throughput and outstanding queries of one run."""
    if p is None:
        return ""
    kind = p.latency_kind
    unit, scale = time_unit(max(p.cdf.x, default=1.0))
    h = p.histogram
    note = f"+{h.overflow:,} above {h.edges_ns[-1] / scale:.4g} {unit}" if h.overflow else ""
    hist = histogram_svg(
        [e / scale for e in h.edges_ns],
        h.counts,
        title=f"{name}: {kind} latency histogram",
        x_label=f"{kind} latency ({unit})",
        y_label=_PLURAL.get(kind, kind),
        unit=unit,
        note=note,
    )
    cdf = lines_svg(
        [Series(name, [x / scale for x in p.cdf.x], p.cdf.y)],
        title=f"{name}: {kind} latency CDF",
        x_label=f"{kind} latency ({unit})",
        y_label="fraction at or below",
        y_range=(0.0, 1.0),
        guides=_CDF_GUIDES,
    )
    rate = lines_svg(
        [Series("completed samples/s", p.throughput.x, p.throughput.y, step=True)],
        title=f"{name}: throughput over time",
        x_label="time since test start (s)",
        y_label="completed samples/s",
    )
    waiting = [Series("queries", p.outstanding_queries.x, p.outstanding_queries.y, step=True)]
    if p.outstanding_samples is not None:
        o = p.outstanding_samples
        waiting.append(Series("samples", o.x, o.y, step=True))
    busy = lines_svg(
        waiting,
        title=f"{name}: outstanding over time",
        x_label="time since test start (s)",
        y_label="outstanding",
    )
    figures = (
        _figure(f"{kind.capitalize()} latency histogram", hist),
        _figure(f"{kind.capitalize()} latency CDF", cdf),
        _figure("Throughput over time", rate),
        _figure("Outstanding queries over time", busy),
    )
    return f'<h3>Plots</h3><div class="plots">{"".join(figures)}</div>'


def _figure(caption: str, svg: str) -> str:
    return f'<figure class="plot-box"><figcaption>{esc(caption)}</figcaption>{svg}</figure>'


def _details(title: str, values: dict[str, Any]) -> str:
    if not values:
        return ""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(_text(v))}</td></tr>" for k, v in values.items())
    return f"<details><summary>{esc(title)}</summary><table>{rows}</table></details>"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _data_script(report: Report) -> str:
    """The exported data, safe inside a script element (no ``<``, ``>`` or ``&``)."""
    data = json.dumps(report.to_dict(), separators=(",", ":"), allow_nan=False, default=str)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        data = data.replace(raw, escaped)
    return f'<script type="application/json" id="report-data">{data}</script>'
