"""The Markdown exporter: the summary table, then each run's failed rules and notes."""

from __future__ import annotations

from mlmeter.reporting._format import COLUMNS, summary_cells
from mlmeter.reporting._model import Report
from mlmeter.reporting._power import power_text


def render_markdown(report: Report) -> str:
    """A GitHub-flavoured Markdown table with one row per run."""
    lines = [
        "| " + " | ".join(h for _, h in COLUMNS) + " |",
        "|" + "|".join("---:" if k in _RIGHT else "---" for k, _ in COLUMNS) + "|",
    ]
    for r in report.runs:
        cells = summary_cells(r.summary)
        lines.append("| " + " | ".join(_cell(cells[k]) for k, _ in COLUMNS) + " |")
    for r in report.runs:
        if r.failed_rules or r.notes or r.power:
            lines += ["", f"**{_cell(r.name)}**", ""]
            if r.power is not None:
                lines.append(f"- power: {_cell(power_text(r.power))}")
                lines += [f"- power problem: {_cell(p)}" for p in r.power.problems]
            lines += [f"- INVALID: `{c.code}`: {_cell(c.message)}" for c in r.failed_rules]
            lines += [f"- note: {_cell(n)}" for n in r.notes]
    return "\n".join(lines) + "\n"


_RIGHT = frozenset({"p50", "p90", "p99", "queries", "duration"})


def _cell(text: str) -> str:
    """Text that cannot break a table row."""
    return " ".join(text.split()).replace("|", "\\|")
