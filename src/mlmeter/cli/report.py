"""``mlmeter report RUN_DIR...``: one report of finished runs, side by side.

``-o report.html`` writes a self-contained HTML page (works offline); ``-o x.json``,
``x.csv`` or ``x.md`` pick the format by suffix, ``--format`` overrides it. Without
``-o`` the report goes to stdout, as a Markdown table unless ``--format`` says otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.logfmt import atomic_write_text
from mlmeter.reporting import build_report, exporter_for, get_exporter, load_runs


def add_parser(sub: Any) -> None:
    """Register ``report`` on the top-level sub-parsers."""
    p = sub.add_parser(
        "report",
        help="report finished runs (HTML, Markdown, CSV, JSON)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="a folder written by `mlmeter run`")
    p.add_argument("-o", "--output", default=None, help="the file to write (default: stdout)")
    p.add_argument(
        "--format",
        default=None,
        help="html, md, csv or json (default: from the -o suffix; md on stdout)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the runs, build the report, write it in the chosen format."""
    exporter = get_exporter(args.format) if args.format else exporter_for(args.output)
    out = None if args.output in (None, "-") else Path(args.output)
    if out is not None and not out.parent.is_dir():
        raise UsageError(f"-o {out}: the folder {out.parent} does not exist: create it first")
    report = build_report(load_runs(args.runs))
    text = exporter.render(report)
    if out is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(out, text)
        print(f"wrote {out} ({exporter.name}, {len(report.runs)} runs)", file=sys.stderr)
    return 0
