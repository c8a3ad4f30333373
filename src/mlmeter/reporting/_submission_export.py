"""Exporters of the submission results table: ``csv``, ``json``, ``md`` and ``html``.

Each is a ``TableExporter(name, suffix, render)``; ``render`` turns a whole
``SubmissionTable`` into the text of one file. CSV and JSON keep full float precision
(``repr``); Markdown and HTML show rounded numbers. The HTML page is self-contained (inline
style, no script, no URLs) and every text it shows is escaped.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlmeter.errors import UsageError
from mlmeter.reporting._plots import esc
from mlmeter.reporting._submission_table import COLUMNS, SubmissionTable, TableRow

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMERIC = frozenset({"nodes", "processors", "accelerators", "result", "scaling_factor"})


@dataclass(frozen=True)
class TableExporter:
    """Renders a whole results table as the text of one file."""

    name: str
    suffix: str  # the file name ending it is chosen for, e.g. ".csv"
    render: Callable[[SubmissionTable], str]


def row_cells(row: TableRow, *, exact: bool) -> dict[str, str]:
    """Every column of ``row`` as text; ``exact`` keeps full float precision."""
    num = repr if exact else _rounded
    cells: dict[str, str] = {}
    for key, _ in COLUMNS:
        value = getattr(row, key)
        if key == "valid":
            cells[key] = "VALID" if value else "INVALID"
        elif key == "run_minutes":
            cells[key] = "; ".join("failed" if m is None else num(m) for m in value)
        elif isinstance(value, float):
            cells[key] = num(value)
        else:
            cells[key] = "" if value is None else str(value)
    return cells


def _rounded(value: float) -> str:
    return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"


def render_table_csv(table: SubmissionTable) -> str:
    """A header line of the published column names, then one line per row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([h for _, h in COLUMNS])
    for row in table.rows:
        cells = row_cells(row, exact=True)
        writer.writerow([_inert(cells[k]) if k not in _NUMERIC else cells[k] for k, _ in COLUMNS])
    return out.getvalue()


def _inert(text: str) -> str:
    """Text a spreadsheet cannot run as a formula (OWASP CSV injection): ``'`` before it."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def render_table_json(table: SubmissionTable) -> str:
    """The versioned table document (format ``mlmeter.submission_table``), indented."""
    return json.dumps(table.to_dict(), indent=2, allow_nan=False) + "\n"


def render_table_markdown(table: SubmissionTable) -> str:
    """A GitHub-flavoured Markdown table with one line per row."""
    lines = [
        "| " + " | ".join(h for _, h in COLUMNS) + " |",
        "|" + "|".join("---:" if k in _NUMERIC else "---" for k, _ in COLUMNS) + "|",
    ]
    for row in table.rows:
        cells = row_cells(row, exact=False)
        lines.append("| " + " | ".join(_md(cells[k]) for k, _ in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Text that cannot break a table row nor become HTML (``<``, ``>``, ``&`` escaped)."""
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 16px 24px; color: #1f2328; }
table { border-collapse: collapse; } th, td { padding: 4px 8px; border-bottom: 1px solid #d1d9e0;
text-align: left; vertical-align: top; } th { background: #f6f8fa; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } .muted { color: #59636e; }
td.VALID { color: #1a7f37; } td.INVALID { color: #cf222e; font-weight: 600; }
"""


def render_table_html(table: SubmissionTable) -> str:
    """One self-contained page holding the table."""
    n = len(table.rows)
    sources = ", ".join(table.sources)
    head = "".join(f'<th scope="col">{esc(h)}</th>' for _, h in COLUMNS)
    body = "".join(_html_row(row) for row in table.rows)
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>mlmeter submission results</title><style>{_CSS}</style></head><body>",
            "<h1>Submission results</h1>",
            f'<p class="muted">{n} row{"s" * (n != 1)} from {esc(sources)}; generated '
            f"{esc(table.generated_utc)} by mlmeter {esc(table.tool_version)}</p>",
            f'<table class="submission"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>',
            "</table></body></html>",
        ]
    ) + "\n"  # fmt: skip


def _html_row(row: TableRow) -> str:
    cells = row_cells(row, exact=False)
    tds = []
    for key, _ in COLUMNS:
        cls = f"{key} num" if key in _NUMERIC else key
        cls = f"valid {cells[key]}" if key == "valid" else cls
        tds.append(f'<td class="{cls}">{esc(cells[key])}</td>')
    return f"<tr>{''.join(tds)}</tr>"


TABLE_EXPORTERS: dict[str, TableExporter] = {
    e.name: e
    for e in (
        TableExporter("csv", ".csv", render_table_csv),
        TableExporter("json", ".json", render_table_json),
        TableExporter("md", ".md", render_table_markdown),
        TableExporter("html", ".html", render_table_html),
    )
}


def get_table_exporter(name: str | None, path: str | Path | None = None) -> TableExporter:
    """The exporter called ``name``, else the one whose suffix ``path`` ends with, else md."""
    if name is not None:
        if name not in TABLE_EXPORTERS:
            choices = " or ".join(TABLE_EXPORTERS)
            raise UsageError(f"unknown table format {name!r}: use --format {choices}")
        return TABLE_EXPORTERS[name]
    suffix = "" if path is None else Path(path).suffix.lower()
    suffix = ".html" if suffix == ".htm" else suffix
    found = [e for e in TABLE_EXPORTERS.values() if e.suffix == suffix]
    return found[0] if found else TABLE_EXPORTERS["md"]
