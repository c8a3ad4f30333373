"""The CSV exporter: one row per run, raw numbers (ns, per-second rates)."""

from __future__ import annotations

import csv
import dataclasses
import io

from mlmeter.reporting._model import Report, SummaryRow
from mlmeter.reporting._power import CSV_FIELDS, csv_cells

FIELDS = (*(f.name for f in dataclasses.fields(SummaryRow)), "failed_rules")


def render_csv(report: Report) -> str:
    """A header line, then one line per run; failed rules joined by ``; ``."""
    out = io.StringIO()
    power = any(r.power is not None for r in report.runs)  # power columns only with power
    writer = csv.DictWriter(
        out, fieldnames=FIELDS + CSV_FIELDS if power else FIELDS, lineterminator="\n"
    )
    writer.writeheader()
    for r in report.runs:
        row = dataclasses.asdict(r.summary)
        row["failed_rules"] = "; ".join(f"[{c.code}] {c.message}" for c in r.failed_rules)
        if power:
            row |= csv_cells(r.power)
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()
