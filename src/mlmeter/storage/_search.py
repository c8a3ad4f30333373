"""The most emulated accelerators the storage keeps at or above the AU threshold.

Doubling (1, 2, 4, ...) until a run fails, then bisection between the last pass and the
first failure; every probe is a real :func:`~._run.run_storage` run written to
``OUT/accelerators_<n>/``. The search stops early, with a note, where the dataset is too
small for more accelerators. ``search.json`` in ``OUT`` lists every probe.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeter.storage._dataset_check import DatasetTooSmall
from mlmeter.storage._outputs import write_json
from mlmeter.storage._run import StorageResult, run_storage
from mlmeter.storage._specs import StorageWorkload


@dataclass(frozen=True)
class Probe:
    """One run of the search."""

    accelerators: int
    au_percentage: float
    throughput: float
    passed: bool


@dataclass
class SearchResult:
    """The best passing accelerator count (0: even one fails) and every probe."""

    best: int
    probes: list[Probe] = field(default_factory=list)
    note: str = ""


def next_count(passes: int, fails: int | None, cap: int) -> int | None:
    """The next accelerator count to try, or None when the search is done.

    ``passes``: the largest count that passed (0 for none yet); ``fails``: the smallest that
    failed (None for none yet).
    """
    if fails is None:
        nxt = min(max(1, 2 * passes), cap)
        return nxt if nxt > passes else None
    mid = (passes + fails) // 2
    return mid if mid > passes else None


def search_max_accelerators(
    workload: StorageWorkload,
    data_dir: Path,
    out_dir: Path,
    *,
    max_accelerators: int = 1024,
    print_fn: Callable[[str], None] | None = None,
    **options: Any,
) -> SearchResult:
    """Search the largest count with mean AU >= the threshold, printing a table row per run."""
    say = print_fn or (lambda line: print(line, file=sys.stdout, flush=True))
    say(f"{'accelerators':>12} | {'AU %':>7} | {'samples/s':>11} | result")
    passes, fails, got = 0, None, SearchResult(0)
    while (n := next_count(passes, fails, max_accelerators)) is not None:
        try:
            res = _probe(workload, data_dir, out_dir, n, options)
        except DatasetTooSmall as exc:
            got.note = f"stopped at {n} accelerators: {exc}"
            say(f"note: {got.note}")
            break
        probe = Probe(n, res.au_mean * 100, res.throughput_mean, res.passed)
        got.probes.append(probe)
        say(
            f"{n:>12} | {probe.au_percentage:>7.1f} | {probe.throughput:>11.1f} | "
            f"{'pass' if res.passed else 'FAIL'}"
        )
        passes, fails = (n, fails) if res.passed else (passes, n)
    got.best = passes
    say(f"most accelerators with AU >= {workload.au_threshold * 100:g} %: {passes}")
    doc = {
        "format": "mlmeter.storage_search",
        "version": 1,
        "workload": workload.name,
        "best": passes,
        "note": got.note,
        "probes": [vars(p) for p in got.probes],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "search.json", doc)
    return got


def _probe(
    w: StorageWorkload, data: Path, out: Path, n: int, options: dict[str, Any]
) -> StorageResult:
    return run_storage(w, data, out / f"accelerators_{n}", accelerators=n, **options)
