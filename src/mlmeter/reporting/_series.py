"""The plotted data, computed from per-sample timings: small, plain and JSON-ready.

Each function reduces up to millions of samples to at most a few hundred points, so
the exported data (and the page that draws it) stays small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

HIST_BINS = 40
CDF_POINTS = 400
MIN_TIME_BINS, MAX_TIME_BINS = 10, 100


@dataclass(frozen=True)
class Histogram:
    """Counts of latencies in equal-width bins; ``overflow`` values lie above the last."""

    edges_ns: tuple[float, ...]  # len(counts) + 1, ascending
    counts: tuple[int, ...]
    overflow: int = 0


@dataclass(frozen=True)
class Curve:
    """Points of a line; ``step``: the value holds from one x to the next."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    step: bool = False

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"a curve needs as many x as y, got {len(self.x)} and {len(self.y)}")


def histogram(latency_ns: IntArray, bins: int = HIST_BINS) -> Histogram:
    """Equal-width bins from the minimum up to the maximum, or up to the p99.9 (p99 below
    1000 values) when the tail beyond it is over 4 times longer than the range below it;
    values above the last bin are counted in ``overflow``."""
    if latency_ns.size == 0:
        return Histogram((0.0, 1.0), (0,))
    s = np.sort(latency_ns)
    lo, hi = float(s[0]), float(s[-1])
    q = 0.999 if s.size >= 1000 else 0.99
    cut = float(s[min(int(s.size * q), s.size - 1)])
    if hi - lo > 4 * (cut - lo) > 0:
        hi = cut
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    nbins = max(1, min(bins, math.ceil(math.sqrt(s.size)) * 2))
    counts, edges = np.histogram(s, bins=nbins, range=(lo, hi))
    overflow = int(s.size - counts.sum())
    return Histogram(tuple(edges.tolist()), tuple(int(c) for c in counts), overflow)


def cdf(latency_ns: IntArray, points: int = CDF_POINTS) -> Curve:
    """The empirical CDF at up to ``points`` ranks, the minimum and maximum included."""
    if latency_ns.size == 0:
        return Curve((), ())
    s = np.sort(latency_ns)
    idx = np.unique(np.linspace(0, s.size - 1, min(points, s.size)).round().astype(np.int64))
    return Curve(tuple(s[idx].astype(float).tolist()), tuple(((idx + 1) / s.size).tolist()))


def time_bins(n: int) -> int:
    """Bins for a series over time: about 20 events each, 10 to 100 bins."""
    return min(max(n // 20, MIN_TIME_BINS), MAX_TIME_BINS)


def throughput(completed_ns: IntArray, end_ns: float, bins: int | None = None) -> Curve:
    """Completed samples per second in equal time bins over ``[0, end_ns]``; x in s."""
    done = completed_ns[completed_ns >= 0]
    if done.size == 0 or end_ns <= 0:
        return Curve((), (), step=True)
    counts, edges = np.histogram(done, bins=bins or time_bins(done.size), range=(0.0, end_ns))
    rates = (counts / ((edges[1] - edges[0]) / 1e9)).tolist()
    return Curve(tuple((edges / 1e9).tolist()), (*rates, rates[-1]), step=True)


def outstanding(
    issued_ns: IntArray, completed_ns: IntArray, end_ns: float, bins: int | None = None
) -> Curve:
    """How many items (queries or samples) were issued and not yet answered: the time
    average over each of equal time bins, a step curve with x in s. Unanswered items
    stay outstanding to the end."""
    ok = issued_ns >= 0
    done = completed_ns[ok & (completed_ns >= 0)]
    times = np.concatenate([issued_ns[ok], done])
    if times.size == 0 or end_ns <= 0:
        return Curve((), (), step=True)
    deltas = np.concatenate([np.ones(int(ok.sum()), np.int64), -np.ones(done.size, np.int64)])
    order = np.argsort(times, kind="stable")
    t, level = times[order].astype(np.float64), np.cumsum(deltas[order]).astype(np.float64)
    edges = np.linspace(0.0, max(end_ns, t[-1]), (bins or time_bins(done.size)) + 1)
    # the area under the level up to each event, then up to each bin edge
    area_at_event = np.concatenate([[0.0], np.cumsum(np.diff(t) * level[:-1])])
    k = np.searchsorted(t, edges, side="right") - 1  # the last event at or before the edge
    kk = np.maximum(k, 0)
    area = np.where(k >= 0, area_at_event[kk] + level[kk] * (edges - t[kk]), 0.0)
    means = (np.diff(area) / np.diff(edges)).tolist()
    return Curve(tuple((edges / 1e9).tolist()), (*means, means[-1]), step=True)
