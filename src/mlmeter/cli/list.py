"""``mlmeter list``: the registered workloads with their models, data sets and targets."""

from __future__ import annotations

import argparse
from typing import Any

from mlmeter.workloads import available

_COLUMNS = ("name", "task", "model", "dataset", "metric", "backends")


def add_parser(sub: Any) -> None:
    """Register ``list`` on the top-level sub-parsers."""
    p = sub.add_parser("list", help="list the workloads", description=__doc__)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one row per workload (plus the harness test doubles)."""
    rows = [w().describe() for w in available().values()]
    rows += [
        {
            "name": "null",
            "task": "harness",
            "model": "NullSUT",
            "dataset": "none",
            "metric": "-",
            "backends": "-",
        },
        {
            "name": "fixed",
            "task": "harness",
            "model": "FixedLatencySUT",
            "dataset": "none",
            "metric": "-",
            "backends": "-",
        },
    ]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in _COLUMNS}
    print("  ".join(c.ljust(widths[c]) for c in _COLUMNS))
    for r in rows:
        print("  ".join(r[c].ljust(widths[c]) for c in _COLUMNS))
    return 0
