"""MLPerf early stopping: how many over-latency queries a run of ``n`` queries may absorb.

Notation (MLPerf): ``p`` is the target percentile, ``c`` the confidence (0.99), ``d`` the
tolerance (0). A query is *over latency* with assumed probability ``q = 1 - x``, where
``x = p - d`` (both formed in double precision, as LoadGen does).

- ``odds(h, t) = P[X <= t]`` for ``X ~ Binomial(h + t, q)``; equivalently the regularized
  incomplete beta ``I_x(h, t + 1)``. It decreases in ``h`` and increases in ``t``.
- ``min_h(t)`` is the smallest ``h`` with ``odds(h, t) < 1 - c`` (strict, like LoadGen).
- A run of ``n`` queries with ``t`` over latency passes when ``n >= min_h(t) + t``.

Because ``odds`` decreases in ``h``, ``n >= min_h(t) + t`` holds exactly when
``odds(n - t, t) < 1 - c``, i.e. when ``F_n(t) < 1 - c`` with ``F_n`` the CDF of
``Binomial(n, q)``. So the largest passing ``t`` for a given ``n`` is a binomial quantile,
found by one search instead of LoadGen's walk over every ``t``.

The binomial probabilities are computed in double precision to about 1e-13 relative error:
the point mass with Loader's saddle-point form (Stirling error + deviance, no cancelling
``lgamma`` terms), times the tail as a sum of term ratios. Normal approximations only pick a
starting point for the searches; every decision is taken on the exact CDF.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_CHUNK = 2048  # tail terms summed per numpy call
_NEGLIGIBLE = 1e-17  # stop a tail sum once the next terms are this small, relatively


# --------------------------------------------------------------------------- binomial maths


def _stirling_error(k: int) -> float:
    """Return ``log(k!) - log(sqrt(2 pi k) (k / e) ** k)`` for ``k >= 1``."""
    if k <= 15:
        return math.lgamma(k + 1.0) - (k + 0.5) * math.log(k) + k - _HALF_LOG_2PI
    k2 = 1.0 / (float(k) * k)
    return (1 / 12 - k2 * (1 / 360 - k2 * (1 / 1260 - k2 * (1 / 1680 - k2 / 1188)))) / k


def _deviance(k: float, mean: float) -> float:
    """Return ``k log(k / mean) + mean - k`` without cancellation when ``k`` is near ``mean``."""
    if abs(k - mean) >= 0.1 * (k + mean):
        return k * math.log(k / mean) + mean - k
    v = (k - mean) / (k + mean)  # log(k / mean) = 2 atanh(v), expanded as a power series
    total = (k - mean) * v
    term, v2, j = 2.0 * k * v, v * v, 1
    while True:
        term *= v2
        updated = total + term / (2 * j + 1)
        if updated == total:
            return total
        total, j = updated, j + 1


def _log_pmf(k: int, n: int, x: float) -> float:
    """Return ``log P[X = k]`` for ``X ~ Binomial(n, 1 - x)``, ``0 <= k <= n``."""
    q = 1.0 - x
    if k == 0:
        return n * math.log(x)
    if k == n:
        return n * math.log(q)
    stirling = _stirling_error(n) - _stirling_error(k) - _stirling_error(n - k)
    deviance = _deviance(k, n * q) + _deviance(n - k, n * x)
    log_norm = math.log(n) - math.log(k) - math.log(n - k) - 2.0 * _HALF_LOG_2PI
    return stirling - deviance + 0.5 * log_norm


def _sum_down(k: int, n: int, ratio: float) -> float:
    """Return ``sum_{j <= k} P[X = j] / P[X = k]`` for ``k`` at or below the mean.

    ``ratio`` is ``x / q``, so ``P[X = j - 1] / P[X = j] = j / (n - j + 1) * ratio``.
    """
    total, scale = 1.0, 1.0
    while k > 0 and scale >= _NEGLIGIBLE * total:
        js = np.arange(k, max(k - _CHUNK, 0), -1, dtype=np.float64)
        terms = np.cumprod(js / (n - js + 1.0) * ratio) * scale
        total += float(terms.sum())
        scale, k = float(terms[-1]), k - _CHUNK
    return total


def _sum_up(k: int, n: int, ratio: float) -> float:
    """Return ``sum_{j >= k} P[X = j] / P[X = k]`` for ``k`` above the mean.

    ``ratio`` is ``q / x``, so ``P[X = j + 1] / P[X = j] = (n - j) / (j + 1) * ratio``.
    """
    total, scale = 1.0, 1.0
    while k < n and scale >= _NEGLIGIBLE * total:
        js = np.arange(k, min(k + _CHUNK, n), dtype=np.float64)
        terms = np.cumprod((n - js) / (js + 1.0) * ratio) * scale
        total += float(terms.sum())
        scale, k = float(terms[-1]), k + _CHUNK
    return total


def _over_cdf(t: int, n: int, x: float) -> float:
    """Return ``P[X <= t]`` for ``X ~ Binomial(n, 1 - x)``: at most ``t`` of ``n`` over."""
    if t < 0:
        return 0.0
    if t >= n:
        return 1.0
    q = 1.0 - x
    if t <= n * q:
        return math.exp(_log_pmf(t, n, x)) * _sum_down(t, n, x / q)
    return 1.0 - math.exp(_log_pmf(t + 1, n, x)) * _sum_up(t + 1, n, q / x)


# --------------------------------------------------------------------------- searches


def _smallest_true(pred: Callable[[int], bool], guess: int, floor: int) -> int:
    """Return the smallest ``k >= floor`` with ``pred(k)``, for ``pred`` false-then-true.

    Gallops from ``guess`` (doubling steps) to bracket the answer, then bisects. ``pred``
    must become true eventually; ``floor - 1`` is treated as false without evaluation.
    """
    guess, step = max(guess, floor), 1
    if pred(guess):
        hi, lo = guess, guess - 1
        while lo >= floor and pred(lo):
            hi, step = lo, step * 2
            lo = hi - step
        lo = max(lo, floor - 1)
    else:
        lo, hi = guess, guess + 1
        while not pred(hi):
            lo, step = hi, step * 2
            hi = lo + step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if pred(mid) else (mid, hi)
    return hi


def _guess_total(t: int, x: float, threshold: float) -> int:
    """Normal approximation of the ``n`` at which ``P[Binomial(n, 1 - x) <= t] = threshold``."""
    q, z = 1.0 - x, NormalDist().inv_cdf(threshold)
    b = z * math.sqrt(q * x)
    s = (-b + math.sqrt(b * b + 4.0 * q * (t + 0.5))) / (2.0 * q)  # s = sqrt(n)
    return math.ceil(s * s)


def _guess_quantile(n: int, x: float, threshold: float) -> int:
    """Normal approximation of the ``t`` at which ``P[Binomial(n, 1 - x) <= t] = threshold``."""
    q, z = 1.0 - x, NormalDist().inv_cdf(threshold)
    return min(max(round(n * q + z * math.sqrt(n * q * x)), 0), n)


@functools.lru_cache(maxsize=1 << 16)
def _min_h(t: int, x: float, threshold: float) -> int:
    """Smallest ``h >= 1`` with ``odds(h, t) < threshold`` (cached per ``(t, x, threshold)``)."""
    guess = _guess_total(t, x, threshold) - t
    return _smallest_true(lambda h: _over_cdf(t, h + t, x) < threshold, guess, 1)


def _under_probability(p: float, tolerance: float) -> float:
    """Validate ``p`` and ``tolerance``; return ``x = p - tolerance``."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    if not 0.0 <= tolerance < p:
        raise ValueError(f"tolerance must be in [0, p), got {tolerance!r}")
    return p - tolerance


def _threshold(confidence: float) -> float:
    """Validate ``confidence``; return ``1 - confidence`` in double, as LoadGen compares."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return 1.0 - confidence


# --------------------------------------------------------------------------- public API


def overlatency_odds(h: int, t: int, p: float, tolerance: float = 0.0) -> float:
    """Return ``odds(h, t)``: the chance of at most ``t`` over-latency queries in ``h + t``.

    Each query is assumed over latency with probability ``1 - (p - tolerance)``.
    """
    if h < 0 or t < 0:
        raise ValueError(f"h and t must be >= 0, got h={h}, t={t}")
    return _over_cdf(t, h + t, _under_probability(p, tolerance))


def min_passing_count(t: int, p: float, confidence: float = 0.99, tolerance: float = 0.0) -> int:
    """Return ``min_h(t)``: the fewest under-latency queries that outweigh ``t`` over it.

    That is the smallest ``h`` with ``odds(h, t) < 1 - confidence``. Examples at the
    defaults: ``p = 0.90`` gives 44, 63 for ``t = 0, 1``; ``p = 0.99`` gives 459, 661.
    """
    if t < 0:
        raise ValueError(f"t must be >= 0, got {t}")
    return _min_h(t, _under_probability(p, tolerance), _threshold(confidence))


def max_overlatency_count(
    n: int, p: float, confidence: float = 0.99, tolerance: float = 0.0
) -> int:
    """Return the largest ``t`` with ``n >= min_passing_count(t) + t``; -1 if there is none.

    Computed as a binomial quantile (see the module docstring), in a handful of CDF
    evaluations even for ``n`` in the millions.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    x, threshold = _under_probability(p, tolerance), _threshold(confidence)
    guess = _guess_quantile(n, x, threshold)
    return _smallest_true(lambda t: _over_cdf(t, n, x) >= threshold, guess, 0) - 1


def queries_needed_single_stream(p: float, confidence: float = 0.99) -> int:
    """Return the fewest queries for a SingleStream/MultiStream estimate: ``min_h(1) + 1``.

    64 for ``p = 0.90``, 662 for 0.99, 6636 for 0.999.
    """
    return min_passing_count(1, p, confidence) + 1


@dataclass(frozen=True)
class EarlyStoppingEstimate:
    """The SingleStream/MultiStream early-stopping latency estimate.

    Attributes:
        met: whether enough queries ran (``n >= min_queries``).
        n: queries processed.
        min_queries: queries needed for an estimate, ``min_h(1) + 1``.
        overlatency_discarded: highest latencies dropped, ``t - 1`` for the largest ``t``
            with ``n >= min_h(t) + t`` (the summary's "Would discard K highest latency
            queries"); 0 when not met.
        estimate_ns: the ``t``-th largest latency, ``sorted[n - t]``; None when not met.
    """

    met: bool
    n: int
    min_queries: int
    overlatency_discarded: int
    estimate_ns: int | None

    def __post_init__(self) -> None:
        """Reject inconsistent fields, naming the first bad one."""
        if self.n < 0:
            raise ValueError(f"n must be >= 0, got {self.n}")
        if self.min_queries < 1:
            raise ValueError(f"min_queries must be >= 1, got {self.min_queries}")
        if self.met != (self.estimate_ns is not None):
            raise ValueError("estimate_ns must be set exactly when met is true")
        if self.met != (self.n >= self.min_queries):
            raise ValueError(f"met must equal n >= min_queries, got met={self.met}")
        limit = self.n if self.met else 1
        if not 0 <= self.overlatency_discarded < limit:
            raise ValueError(f"overlatency_discarded out of range: {self.overlatency_discarded}")


def single_stream_estimate(
    sorted_latencies: npt.NDArray[np.int64], p: float, confidence: float = 0.99
) -> EarlyStoppingEstimate:
    """Return the early-stopping ``p``-th percentile estimate of ascending latencies.

    Used for SingleStream (sample latencies) and MultiStream (query latencies). When
    not met, the summary reports " * Only processed {n} queries." and " * Need to process
    at least {min_queries} queries for early stopping.".
    """
    n = len(sorted_latencies)
    min_queries = queries_needed_single_stream(p, confidence)
    if n < min_queries:
        return EarlyStoppingEstimate(False, n, min_queries, 0, None)
    t = max_overlatency_count(n, p, confidence)
    return EarlyStoppingEstimate(True, n, min_queries, t - 1, int(sorted_latencies[n - t]))


@dataclass(frozen=True)
class ServerEarlyStopping:
    """The Server early-stopping verdict.

    Attributes:
        n: queries processed.
        overlatency_count: queries over the latency bound (``t``).
        met: ``n >= min_h(t) + t``.
        queries_needed: further all-under-latency queries needed to pass,
            ``min_h(t) + t - n``; 0 when met.
    """

    n: int
    overlatency_count: int
    met: bool
    queries_needed: int

    def __post_init__(self) -> None:
        """Reject inconsistent fields, naming the first bad one."""
        if not 0 <= self.overlatency_count <= self.n:
            raise ValueError(f"overlatency_count must be in [0, n], got {self.overlatency_count}")
        if self.queries_needed < 0:
            raise ValueError(f"queries_needed must be >= 0, got {self.queries_needed}")
        if self.met != (self.queries_needed == 0):
            raise ValueError("queries_needed must be 0 exactly when met is true")


def server_early_stopping(
    n: int, overlatency_count: int, p: float, confidence: float = 0.99
) -> ServerEarlyStopping:
    """Return the Server verdict for ``n`` queries of which ``overlatency_count`` were late."""
    required = min_passing_count(overlatency_count, p, confidence) + overlatency_count
    needed = max(required - n, 0)
    return ServerEarlyStopping(n, overlatency_count, needed == 0, needed)
