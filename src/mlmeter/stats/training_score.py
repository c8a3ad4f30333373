"""MLPerf Training scoring: the olympic mean of run times and the RCP convergence check.

Olympic score (training_rules.adoc "Benchmark results"): the result is the mean of the N
run times after dropping the fastest and the slowest (``drop`` of each; 4 for U-Net3D).
A failed (non-converging) run counts as infinitely slow, so it is among the dropped
slowest; more than ``max_failed`` failures (1; 4 for U-Net3D) make the result invalid.

Reference Convergence Points, as ``mlperf_logging.rcp_checker`` computes them:

- per reference batch size: mean = olympic mean of the reference list, stdev = the
  population standard deviation of the *full* list (``np.std``);
- "Min Epochs" = the smallest submission mean a one-sided, equal-variance two-sample
  t-test (alpha 0.05) does not reject, found by the checker's own bisection on
  ``[0, mean]`` to an absolute tolerance of 1e-4, with ``n_ref = len(list) - 2 * drop`` and
  ``n_sub = submission_runs - 2``; a zero stdev gives Min Epochs = mean;
- pruning (the default ``pruned_rcps`` pass): drop every point with a batch size below the
  fastest-converging one, then drop points slower than the linear interpolation of their
  neighbours (the checker's single sweep, not a true lower convex envelope);
- a submission is its olympic mean over epochs-to-converge (a failed run counts 1e9);
  it passes when that mean is ``>= mean / (mean / min_epochs)``; when it passes faster than
  the mean, its score is scaled by ``mean / submission mean``;
- batch size matching: exact point; otherwise linear interpolation of mean and stdev
  between the nearest lower and higher points (``n_ref = 2 * submission_runs``); below every
  point, the smallest-batch point, pass only if slower; above every point, "missing RCP".
- ``--rcp-bypass`` turns a failure against a found, interpolated or missing RCP into a
  bypass (to be reviewed), never an insufficient-convergence failure.

The Student t CDF is computed here with numpy-free stdlib maths (regularized incomplete
beta by continued fraction), so scipy stays a test-only dependency.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

NOT_CONVERGED = 1e9  # what rcp_checker records for a run that did not converge
DEFAULT_ALPHA = 0.05
BISECTION_TOLERANCE = 1e-4

# --------------------------------------------------------------------------- olympic score


@dataclass(frozen=True)
class ScoreResult:
    """An olympic score: the mean of ``used`` runs, or ``None`` with a message when invalid."""

    score: float | None
    used: tuple[float, ...]
    dropped: tuple[float | None, ...]
    failed: int
    valid: bool
    message: str = ""

    def __post_init__(self) -> None:
        if self.valid != (self.score is not None):
            raise ValueError("ScoreResult.score must be set exactly when valid")
        if self.valid and not self.used:
            raise ValueError("ScoreResult.used must not be empty when valid")
        if not self.valid and not self.message:
            raise ValueError("ScoreResult.message must name the rule when invalid")
        if self.failed < 0:
            raise ValueError(f"ScoreResult.failed must be >= 0, got {self.failed}")
        if any(not math.isfinite(t) or t < 0 for t in self.used):
            raise ValueError("ScoreResult.used must hold finite, non-negative times")


def _check_counts(required_runs: int, max_failed: int, drop: int) -> None:
    if drop < 0:
        raise ValueError(f"drop must be >= 0, got {drop}")
    if required_runs <= 2 * drop:
        raise ValueError(f"required_runs must exceed 2 * drop = {2 * drop}, got {required_runs}")
    if not 0 <= max_failed <= drop:
        raise ValueError(f"max_failed must be in [0, drop = {drop}], got {max_failed}")


def olympic_score(
    times: Sequence[float | None], required_runs: int, max_failed: int, *, drop: int = 1
) -> ScoreResult:
    """Score run times (``None`` = failed run): drop ``drop`` fastest and slowest, average."""
    _check_counts(required_runs, max_failed, drop)
    finished = sorted(_checked_time(t) for t in times if t is not None)
    failed = len(times) - len(finished)
    ordered: list[float | None] = [*finished, *([None] * failed)]
    dropped = (*ordered[:drop], *ordered[len(ordered) - drop :])
    problem = _score_problem(len(times), failed, required_runs, max_failed)
    if problem:
        return ScoreResult(None, (), dropped, failed, False, problem)
    used = tuple(finished[drop : len(ordered) - drop])
    # np.mean as the result summarizer; clamped, as its rounding can leave [min, max] by an ulp.
    score = min(max(float(np.mean(used)), used[0]), used[-1])
    return ScoreResult(score, used, dropped, failed, True)


def _checked_time(t: float) -> float:
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"run time must be finite and >= 0, got {t!r}")
    return float(t)


def _score_problem(runs: int, failed: int, required_runs: int, max_failed: int) -> str:
    if runs != required_runs:
        return f"run count: {runs} runs given, the benchmark requires exactly {required_runs}"
    if failed > max_failed:
        return (
            f"failed runs: {failed} of {runs} runs failed, olympic scoring tolerates "
            f"at most {max_failed}"
        )
    return ""


# --------------------------------------------------------------------------- Student t


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            return h
    raise ArithmeticError("incomplete beta continued fraction did not converge")  # pragma: no cover


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """Return ``I_x(a, b)`` for ``a, b > 0`` and ``0 <= x <= 1``."""
    if a <= 0 or b <= 0 or not 0.0 <= x <= 1.0:
        raise ValueError(f"need a, b > 0 and 0 <= x <= 1, got a={a}, b={b}, x={x}")
    if x in (0.0, 1.0):
        return x
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def student_t_cdf(t: float, df: float) -> float:
    """Return ``P[T <= t]`` for Student's t with ``df > 0`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"df must be > 0, got {df}")
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    t2 = t * t
    if t2 < df:  # near zero: P = 1/2 +- I_z(1/2, df/2) / 2 with z = t^2 / (df + t^2), no cancelling
        half = 0.5 * regularized_incomplete_beta(0.5, df / 2.0, t2 / (df + t2))
        return 0.5 - half if t < 0 else 0.5 + half
    tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t2))
    return tail if t < 0 else 1.0 - tail


def one_sided_p_value(mean_a: float, mean_b: float, stdev: float, n_a: int, n_b: int) -> float:
    """One-sided p of the equal-variance t-test that ``a`` is below ``b`` (as rcp_checker).

    ``rcp_checker`` calls ``scipy.stats.ttest_ind_from_stats(..., equal_var=True)`` and halves
    the two-sided p when ``t < 0`` (else ``1 - p / 2``): that is ``P[T <= t]``.
    """
    df = n_a + n_b - 2
    pooled_var = ((n_a - 1) * stdev**2 + (n_b - 1) * stdev**2) / df
    t = (mean_a - mean_b) / math.sqrt(pooled_var * (1.0 / n_a + 1.0 / n_b))
    return student_t_cdf(t, df)


def min_acceptable_mean(
    mean: float, stdev: float, n_ref: int, n_sub: int, *, alpha: float = DEFAULT_ALPHA
) -> float:
    """The checker's "Min Epochs": bisection on ``[0, mean]`` to ``BISECTION_TOLERANCE``."""
    if stdev == 0:
        return mean
    if n_ref < 1 or n_sub < 1 or n_ref + n_sub < 3:
        raise ValueError(f"need n_ref, n_sub >= 1 and n_ref + n_sub >= 3, got {n_ref}, {n_sub}")
    low, high = 0.0, mean
    mid = (low + high) / 2
    while high - low > BISECTION_TOLERANCE:
        if one_sided_p_value(mid, mean, stdev, n_ref, n_sub) > alpha:
            high = mid
        else:
            low = mid
        mid = (low + high) / 2
    return mid


# --------------------------------------------------------------------------- RCP records


@dataclass(frozen=True)
class RcpStats:
    """One reference convergence point with the statistics the checker derives from it."""

    batch_size: int
    mean: float
    stdev: float
    min_epochs: float
    interpolated: bool = False

    def __post_init__(self) -> None:
        if self.batch_size <= 0:
            raise ValueError(f"RcpStats.batch_size must be > 0, got {self.batch_size}")
        if not (math.isfinite(self.mean) and self.mean > 0):
            raise ValueError(f"RcpStats.mean must be finite and > 0, got {self.mean}")
        if not (math.isfinite(self.stdev) and self.stdev >= 0):
            raise ValueError(f"RcpStats.stdev must be finite and >= 0, got {self.stdev}")
        if not 0 < self.min_epochs <= self.mean:
            raise ValueError(f"RcpStats.min_epochs must be in (0, mean], got {self.min_epochs}")

    @property
    def max_speedup(self) -> float:
        """``mean / min_epochs``, the checker's "Max Speedup"."""
        return self.mean / self.min_epochs

    @property
    def bound(self) -> float:
        """The pass threshold the checker compares with: ``mean / max_speedup``."""
        return self.mean / self.max_speedup


def rcp_stats(
    batch_size: int,
    epochs: Sequence[float],
    *,
    submission_runs: int,
    drop: int = 1,
    alpha: float = DEFAULT_ALPHA,
) -> RcpStats:
    """Statistics of one reference list: olympic mean, population stdev, Min Epochs."""
    values = sorted(float(e) for e in epochs)
    if len(values) <= 2 * drop:
        raise ValueError(
            f"RCP at batch size {batch_size} has {len(values)} runs, need more than {2 * drop}"
        )
    mean = float(np.mean(values[drop : len(values) - drop]))
    stdev = float(np.std(values))
    n_ref = len(values) - 2 * drop
    minimum = min_acceptable_mean(mean, stdev, n_ref, submission_runs - 2, alpha=alpha)
    return RcpStats(int(batch_size), mean, stdev, minimum)


def reference_stats(
    reference: Mapping[int, Sequence[float]],
    *,
    submission_runs: int,
    drop: int = 1,
    alpha: float = DEFAULT_ALPHA,
) -> tuple[RcpStats, ...]:
    """Statistics for every reference batch size, sorted by batch size."""
    return tuple(
        rcp_stats(bs, reference[bs], submission_runs=submission_runs, drop=drop, alpha=alpha)
        for bs in sorted(reference)
    )


def interpolate_rcp(
    batch_size: int,
    low: RcpStats,
    high: RcpStats,
    *,
    submission_runs: int,
    alpha: float = DEFAULT_ALPHA,
) -> RcpStats:
    """Linear interpolation of mean and stdev; Min Epochs with ``n_ref = 2 * submission_runs``."""
    if not low.batch_size <= batch_size <= high.batch_size or low.batch_size == high.batch_size:
        raise ValueError(
            f"batch size {batch_size} is not between {low.batch_size} and {high.batch_size}"
        )
    xs = [float(low.batch_size), float(high.batch_size)]
    mean = float(np.interp(batch_size, xs, [low.mean, high.mean]))
    stdev = float(np.interp(batch_size, xs, [low.stdev, high.stdev]))
    minimum = min_acceptable_mean(
        mean, stdev, 2 * submission_runs, submission_runs - 2, alpha=alpha
    )
    return RcpStats(batch_size, mean, stdev, minimum, interpolated=True)


def prune_rcps(points: Sequence[RcpStats], *, submission_runs: int) -> tuple[RcpStats, ...]:
    """The checker's default ``pruned_rcps`` pass (see the module docstring)."""
    ordered = sorted(points, key=lambda p: p.batch_size)
    if not ordered:
        return ()
    fastest = min(ordered, key=lambda p: p.mean)
    kept = [p for p in ordered if p.batch_size >= fastest.batch_size]
    i = 1
    while i < len(kept) - 1:
        interp = interpolate_rcp(
            kept[i].batch_size, kept[i - 1], kept[i + 1], submission_runs=submission_runs
        )
        if kept[i].mean > interp.mean:
            del kept[i]
            i -= 1
        i += 1
    return tuple(kept)


# --------------------------------------------------------------------------- RCP check


class RcpOutcome(enum.Enum):
    """The verdict on a submission's convergence."""

    PASS = "pass"
    FAIL = "fail"
    BYPASS = "bypass"  # failed, accepted with --rcp-bypass pending review


class RcpMatch(enum.Enum):
    """How the reference point was found; the values are rcp_checker's messages."""

    FOUND = "RCP found"
    INTERPOLATED = "RCP Interpolation"
    SMALLER_BATCH = "RCP not found but slower convergence on smaller batch size"
    MISSING = "Missing RCP"
    NO_RCPS = "Cannot find any RCPs"
    INSUFFICIENT_CONVERGENCE = "Insufficient convergence"


_BYPASSABLE = frozenset({RcpMatch.FOUND, RcpMatch.INTERPOLATED, RcpMatch.MISSING})


@dataclass(frozen=True)
class RcpFinding:
    """The RCP verdict with the numbers behind it (``None`` where the check had none)."""

    outcome: RcpOutcome
    match: RcpMatch
    batch_size: int
    message: str
    submission_mean: float | None = None
    reference: RcpStats | None = None
    scaling_factor: float = 1.0

    def __post_init__(self) -> None:
        if self.outcome is RcpOutcome.BYPASS and self.match not in _BYPASSABLE:
            raise ValueError(f"RcpFinding: {self.match.value!r} cannot be bypassed")
        if self.outcome is RcpOutcome.PASS and self.reference is None:
            raise ValueError("RcpFinding: a pass needs the reference it passed against")
        if self.scaling_factor < 1.0:
            raise ValueError(f"RcpFinding.scaling_factor must be >= 1, got {self.scaling_factor}")
        if not self.message:
            raise ValueError("RcpFinding.message must not be empty")

    @property
    def reference_mean(self) -> float | None:
        return None if self.reference is None else self.reference.mean

    @property
    def bound(self) -> float | None:
        return None if self.reference is None else self.reference.bound

    @property
    def accepted(self) -> bool:
        return self.outcome is not RcpOutcome.FAIL


def submission_mean(epochs: Sequence[float | None], *, drop: int = 1) -> float:
    """Olympic mean of epochs-to-converge, a failed run (``None``) counting as 1e9."""
    values = sorted(NOT_CONVERGED if e is None else float(e) for e in epochs)
    if len(values) <= 2 * drop:
        raise ValueError(f"need more than {2 * drop} runs, got {len(values)}")
    return float(np.mean(values[drop : len(values) - drop]))


def _select_reference(
    batch_size: int, points: Sequence[RcpStats], submission_runs: int, alpha: float
) -> tuple[RcpMatch, RcpStats | None]:
    by_bs = {p.batch_size: p for p in points}
    if batch_size in by_bs:
        return RcpMatch.FOUND, by_bs[batch_size]
    lower = [p for p in points if p.batch_size < batch_size]
    higher = [p for p in points if p.batch_size > batch_size]
    if lower and higher:
        low = max(lower, key=lambda p: p.batch_size)
        high = min(higher, key=lambda p: p.batch_size)
        interp = interpolate_rcp(
            batch_size, low, high, submission_runs=submission_runs, alpha=alpha
        )
        return RcpMatch.INTERPOLATED, interp
    if higher:
        return RcpMatch.SMALLER_BATCH, min(higher, key=lambda p: p.batch_size)
    return (RcpMatch.MISSING if lower else RcpMatch.NO_RCPS), None


def check_rcp(
    epochs: Sequence[float | None],
    batch_size: int,
    reference: Mapping[int, Sequence[float]],
    *,
    submission_runs: int,
    drop: int = 1,
    max_failed: int = 1,
    pruned: bool = True,
    bypass: bool = False,
    alpha: float = DEFAULT_ALPHA,
) -> RcpFinding:
    """Check epochs-to-converge per run (``None`` = did not converge) against the reference.

    ``reference`` maps batch size to the reference's epochs (or samples) to converge.
    """
    _check_counts(submission_runs, max_failed, drop)
    failed = sum(e is None for e in epochs)
    if failed > max_failed:
        msg = f"Insufficient convergence: {failed} runs did not converge, at most {max_failed}"
        return RcpFinding(RcpOutcome.FAIL, RcpMatch.INSUFFICIENT_CONVERGENCE, batch_size, msg)
    points = reference_stats(reference, submission_runs=submission_runs, drop=drop, alpha=alpha)
    if pruned:
        points = prune_rcps(points, submission_runs=submission_runs)
    match, rcp = _select_reference(batch_size, points, submission_runs, alpha)
    if rcp is None:
        return _unmatched(match, batch_size, bypass)
    return _evaluate(match, rcp, batch_size, submission_mean(epochs, drop=drop), bypass)


def _unmatched(match: RcpMatch, batch_size: int, bypass: bool) -> RcpFinding:
    if match is RcpMatch.NO_RCPS:
        return RcpFinding(RcpOutcome.FAIL, match, batch_size, "Cannot find any RCPs")
    msg = f"Missing RCP, please submit RCP with BS = {batch_size}"
    return RcpFinding(_failed(match, bypass), match, batch_size, msg)


def _failed(match: RcpMatch, bypass: bool) -> RcpOutcome:
    return RcpOutcome.BYPASS if bypass and match in _BYPASSABLE else RcpOutcome.FAIL


def _evaluate(
    match: RcpMatch, rcp: RcpStats, batch_size: int, mean: float, bypass: bool
) -> RcpFinding:
    factor = max(1.0, rcp.mean / mean)
    numbers = (
        f"submission mean {mean:.4f}, RCP mean {rcp.mean:.4f} at BS {rcp.batch_size}, "
        f"min acceptable {rcp.bound:.4f}"
    )
    if mean >= rcp.bound:
        note = f"; score scaled by {factor:.6f}" if mean < rcp.mean else ""
        return RcpFinding(
            RcpOutcome.PASS,
            match,
            batch_size,
            f"{match.value}: pass, {numbers}{note}",
            mean,
            rcp,
            factor,
        )
    if match is RcpMatch.SMALLER_BATCH:  # the checker reports this failure as a missing RCP
        match = RcpMatch.MISSING
        numbers = f"Missing RCP, please submit RCP with BS = {batch_size}; {numbers}"
    outcome = _failed(match, bypass)
    return RcpFinding(
        outcome, match, batch_size, f"{match.value}: {outcome.value}, {numbers}", mean, rcp, factor
    )
