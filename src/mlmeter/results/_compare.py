"""Comparing two sets of runs: the relative change of the means per (system, benchmark,
scenario), and whether it exceeds run-to-run noise.

The rule (pure, documented, property-tested):

- ``change = (mean(b) - mean(a)) / |mean(a)|`` over the values that are not None;
  None when a side has no value or ``mean(a)`` is 0.
- ``noise`` = the larger coefficient of variation (sample standard deviation over
  ``|mean|``) of the sides that have repeat runs (two values or more); None when neither
  side has repeats. It does not change when every value is scaled by the same factor.
- ``significant = |change| > noise``: a change within what repeats of the same
  configuration already vary by is not reported as real; None when noise is unknown.
- ``better``: the change goes the good way for the metric (up for throughput, down for
  latency and time to train); None when there is no change.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from mlmeter.results._model import Delta, RunRow

Key = tuple[str, str, str]


def key_of(row: RunRow) -> Key:
    """What a comparison matches runs by."""
    return (row.system, row.benchmark, row.scenario)


def relative_change(a: Sequence[float], b: Sequence[float]) -> float | None:
    """``(mean b - mean a) / |mean a|``; None when a side is empty or mean a is 0."""
    if not a or not b:
        return None
    base = statistics.fmean(a)
    if base == 0:
        return None
    return (statistics.fmean(b) - base) / abs(base)


def cv(values: Sequence[float]) -> float | None:
    """Coefficient of variation (sample stdev / |mean|); None without repeats or at mean 0."""
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    if mean == 0:
        return None
    return statistics.stdev(values) / abs(mean)


def noise_of(a: Sequence[float], b: Sequence[float]) -> float | None:
    """The larger coefficient of variation of the sides with repeat runs."""
    known = [c for c in (cv(a), cv(b)) if c is not None]
    return max(known) if known else None


def delta(key: Key, unit: str, higher: bool, a: Sequence[float], b: Sequence[float]) -> Delta:
    """One comparison by the module's rule."""
    change = relative_change(a, b)
    noise = noise_of(a, b)
    significant = None if change is None or noise is None else abs(change) > noise
    better = None if not change else (change > 0) == higher
    return Delta(key, unit, higher, tuple(a), tuple(b), change, noise, significant, better)


def compare(a: Sequence[RunRow], b: Sequence[RunRow]) -> list[Delta]:
    """Deltas from the runs ``a`` to the runs ``b``, one per (system, benchmark, scenario)
    found on either side, sorted by that key."""
    sides: dict[Key, tuple[list[float], list[float]]] = {}
    first: dict[Key, RunRow] = {}
    for index, rows in enumerate((a, b)):
        for row in rows:
            key = key_of(row)
            first.setdefault(key, row)
            values = sides.setdefault(key, ([], []))[index]
            if row.value is not None and math.isfinite(row.value):
                values.append(row.value)
    return [
        delta(key, first[key].unit, first[key].higher_is_better, *sides[key])
        for key in sorted(sides)
    ]
