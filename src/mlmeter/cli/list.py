"""``mlmeter list``: the registered workloads with their models, data sets and targets."""

from __future__ import annotations

import argparse
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.training import get_training_workload, training_workload_names
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
    _table(rows, _COLUMNS)
    print()
    print("training workloads (mlmeter train):")
    _table(_training_rows(), _TRAIN_COLUMNS)
    return 0


_TRAIN_COLUMNS = ("name", "configs", "logs as", "ruleset", "target", "description")


def _training_rows() -> list[dict[str, str]]:
    rows = []
    for name in training_workload_names():
        try:
            w = get_training_workload(name)
        except UsageError:  # optional dependencies missing
            continue
        better = ">=" if w.spec.higher_is_better else "<="
        rows.append(
            {
                "name": name,
                "configs": ", ".join(w.configs),
                "logs as": w.spec.benchmark,
                "ruleset": w.spec.ruleset,
                "target": f"{better} {w.spec.target:g}",
                "description": w.description,
            }
        )
    return rows


def _table(rows: list[dict[str, str]], columns: tuple[str, ...]) -> None:
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    for r in rows:
        print("  ".join(r[c].ljust(widths[c]) for c in columns).rstrip())
