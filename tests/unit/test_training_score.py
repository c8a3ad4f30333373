"""Tests for MLPerf Training scoring: olympic score and the RCP convergence check."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeter.stats.training_score import (
    BISECTION_TOLERANCE,
    RcpFinding,
    RcpMatch,
    RcpOutcome,
    RcpStats,
    ScoreResult,
    check_rcp,
    interpolate_rcp,
    min_acceptable_mean,
    olympic_score,
    one_sided_p_value,
    prune_rcps,
    rcp_stats,
    reference_stats,
    regularized_incomplete_beta,
    student_t_cdf,
    submission_mean,
)

# 15 resnet reference runs between 34 and 37 epochs at BS 3264 (training.md 1.4): the only
# integer list that gives the documented olympic mean 35.154 and population stdev 0.748.
RESNET_REF = [34.0] * 2 + [35.0] * 9 + [36.0] * 3 + [37.0]
RESNET = {3264: RESNET_REF}


@pytest.fixture(scope="module")
def scipy_stats() -> ModuleType:
    module: ModuleType = pytest.importorskip("scipy.stats")
    return module


def _official_min_epochs(
    stats: ModuleType, mean: float, stdev: float, n_ref: int, n_sub: int
) -> float:
    """rcp_checker's _find_min_acceptable_mean, transcribed with scipy."""
    if stdev == 0:
        return mean
    low, high = 0.0, mean
    mid = (low + high) / 2
    while high - low > 0.0001:
        t, p = stats.ttest_ind_from_stats(mid, stdev, n_ref, mean, stdev, n_sub, equal_var=True)
        p = p / 2 if t < 0 else 1 - p / 2
        if p > 0.05:
            high = mid
        else:
            low = mid
        mid = (low + high) / 2
    return float(mid)


# ------------------------------------------------------------------ olympic score


def test_olympic_drops_fastest_and_slowest() -> None:
    result = olympic_score([10.0, 12.0, 11.0, 30.0, 9.0], 5, 1)
    assert result.valid
    assert result.score == pytest.approx(11.0)
    assert result.used == (10.0, 11.0, 12.0)
    assert result.dropped == (9.0, 30.0)
    assert result.failed == 0
    assert result.message == ""


def test_one_failed_run_is_dropped_as_slowest() -> None:
    result = olympic_score([10.0, None, 11.0, 12.0, 9.0], 5, 1)
    assert result.valid
    assert result.score == pytest.approx(11.0)
    assert result.dropped == (9.0, None)
    assert result.failed == 1


def test_two_failed_runs_are_invalid() -> None:
    result = olympic_score([10.0, None, 11.0, None, 9.0], 5, 1)
    assert not result.valid
    assert result.score is None
    assert result.failed == 2
    assert "failed runs" in result.message
    assert "2 of 5" in result.message
    assert "at most 1" in result.message


def test_wrong_run_count_is_invalid() -> None:
    result = olympic_score([10.0, 11.0, 12.0, 13.0], 5, 1)
    assert not result.valid
    assert "4 runs" in result.message
    assert "exactly 5" in result.message


def test_unet3d_drops_four_each_side_and_tolerates_four_failures() -> None:
    times: list[float | None] = [float(t) for t in range(1, 37)] + [None] * 4
    result = olympic_score(times, 40, 4, drop=4)
    assert result.valid
    assert result.used == tuple(float(t) for t in range(5, 37))
    assert result.score == pytest.approx(np.mean(range(5, 37)))
    assert not olympic_score([*times[:-5], None, None, None, None, None], 40, 4, drop=4).valid


@pytest.mark.parametrize(
    ("required", "max_failed", "drop"), [(2, 0, 1), (5, 2, 1), (5, -1, 1), (5, 0, -1)]
)
def test_inconsistent_rules_raise(required: int, max_failed: int, drop: int) -> None:
    with pytest.raises(ValueError):
        olympic_score([1.0] * required, required, max_failed, drop=drop)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_bad_times_raise(bad: float) -> None:
    with pytest.raises(ValueError, match="run time"):
        olympic_score([1.0, 2.0, bad, 3.0, 4.0], 5, 1)


def test_score_result_validates_itself() -> None:
    with pytest.raises(ValueError, match="score"):
        ScoreResult(None, (), (), 0, True)
    with pytest.raises(ValueError, match="message"):
        ScoreResult(None, (), (), 0, False)
    with pytest.raises(ValueError, match="failed"):
        ScoreResult(1.0, (1.0,), (), -1, True)
    with pytest.raises(ValueError, match="used"):
        ScoreResult(1.0, (math.inf,), (), 0, True)


_times = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def _runs(draw: st.DrawFn) -> tuple[list[float | None], int]:
    drop = draw(st.integers(1, 4))
    n = draw(st.integers(2 * drop + 1, 2 * drop + 12))
    finished = draw(st.lists(_times, min_size=n, max_size=n))
    failed = draw(st.integers(0, drop))
    runs: list[float | None] = [*finished[: n - failed], *([None] * failed)]
    return draw(st.permutations(runs)), drop


@given(_runs())
def test_olympic_properties(case: tuple[list[float | None], int]) -> None:
    runs, drop = case
    result = olympic_score(runs, len(runs), drop, drop=drop)
    assert result.valid
    assert result.score is not None
    assert min(result.used) <= result.score <= max(result.used)
    assert len(result.used) == len(runs) - 2 * drop
    assert len(result.dropped) == 2 * drop
    finished = sorted(t for t in runs if t is not None)
    ordered = [*finished, *([math.inf] * result.failed)]
    assert list(result.used) == ordered[drop : len(ordered) - drop]
    for fast in result.dropped[:drop]:
        assert fast is not None and fast <= min(result.used)
    for slow in result.dropped[drop:]:
        assert slow is None or slow >= max(result.used)


@given(_runs(), st.randoms(use_true_random=False))
def test_olympic_is_order_invariant(case: tuple[list[float | None], int], rnd: Any) -> None:
    runs, drop = case
    shuffled = list(runs)
    rnd.shuffle(shuffled)
    assert olympic_score(runs, len(runs), drop, drop=drop) == olympic_score(
        shuffled, len(runs), drop, drop=drop
    )


# ------------------------------------------------------------------ Student t


@pytest.mark.parametrize("df", [1, 2, 3, 5.5, 14, 24, 78, 500])
@pytest.mark.parametrize("t", [-40.0, -3.0, -1.761, -0.5, -1e-3, 0.0, 0.7, 2.1, 12.0])
def test_t_cdf_matches_scipy(scipy_stats: ModuleType, t: float, df: float) -> None:
    assert student_t_cdf(t, df) == pytest.approx(scipy_stats.t.cdf(t, df), rel=1e-11, abs=1e-15)


@given(
    st.floats(min_value=0.01, max_value=200),
    st.floats(min_value=0.01, max_value=200),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_incomplete_beta_matches_scipy(a: float, b: float, x: float) -> None:
    special = pytest.importorskip("scipy.special")
    expected = float(special.betainc(a, b, x))
    assert regularized_incomplete_beta(a, b, x) == pytest.approx(expected, rel=1e-9, abs=1e-13)


def test_t_cdf_edges() -> None:
    assert student_t_cdf(math.inf, 3) == 1.0
    assert student_t_cdf(-math.inf, 3) == 0.0
    with pytest.raises(ValueError):
        student_t_cdf(1.0, 0)
    with pytest.raises(ValueError):
        regularized_incomplete_beta(1.0, 1.0, 1.5)


@given(
    st.floats(min_value=1, max_value=1e4),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.01, max_value=0.5),
    st.integers(2, 40),
    st.integers(1, 40),
)
def test_one_sided_p_matches_scipy_ttest(
    mean: float, shift: float, rel_stdev: float, n_a: int, n_b: int
) -> None:
    stats = pytest.importorskip("scipy.stats")
    stdev = rel_stdev * mean
    t, p = stats.ttest_ind_from_stats(mean * (1 - shift), stdev, n_a, mean, stdev, n_b)
    expected = p / 2 if t < 0 else 1 - p / 2
    got = one_sided_p_value(mean * (1 - shift), mean, stdev, n_a, n_b)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-14)


# ------------------------------------------------------------------ min acceptable mean


def test_documented_min_epochs() -> None:
    resnet = rcp_stats(3264, RESNET_REF, submission_runs=5)
    assert resnet.mean == pytest.approx(35.154, abs=5e-4)
    assert resnet.stdev == pytest.approx(0.748, abs=5e-4)
    assert resnet.min_epochs == pytest.approx(34.31, abs=5e-3)
    assert resnet.max_speedup - 1 == pytest.approx(0.0246, abs=5e-4)
    lora = min_acceptable_mean(3178.7, 299.9, 18, 8)  # 20 reference runs, 10 submission runs
    assert lora == pytest.approx(2960.6, abs=0.1)
    assert 1 - lora / 3178.7 == pytest.approx(0.0686, abs=5e-4)


@pytest.mark.parametrize(
    ("mean", "stdev", "n_ref", "n_sub"),
    [(35.154, 0.748, 13, 3), (3178.7, 299.9, 18, 8), (1.0, 0.3, 30, 38), (50.0, 5.0, 20, 8)],
)
def test_min_epochs_is_the_official_bisection(
    scipy_stats: ModuleType, mean: float, stdev: float, n_ref: int, n_sub: int
) -> None:
    expected = _official_min_epochs(scipy_stats, mean, stdev, n_ref, n_sub)
    assert min_acceptable_mean(mean, stdev, n_ref, n_sub) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=60)
@given(
    st.floats(min_value=0.5, max_value=1e5),
    st.floats(min_value=0.001, max_value=0.15),
    st.integers(3, 40),
    st.integers(1, 38),
)
def test_min_epochs_is_the_t_bound(mean: float, rel_stdev: float, n_ref: int, n_sub: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    stdev = rel_stdev * mean
    closed = mean - stats.t.ppf(0.95, n_ref + n_sub - 2) * stdev * math.sqrt(1 / n_ref + 1 / n_sub)
    got = min_acceptable_mean(mean, stdev, n_ref, n_sub)
    assert abs(got - max(closed, 0.0)) <= BISECTION_TOLERANCE
    assert abs(got - _official_min_epochs(stats, mean, stdev, n_ref, n_sub)) <= BISECTION_TOLERANCE


def test_zero_stdev_gives_the_mean() -> None:
    assert min_acceptable_mean(10.0, 0.0, 5, 3) == 10.0
    assert rcp_stats(8, [4.0] * 6, submission_runs=5).max_speedup == 1.0


def test_rcp_stats_validates() -> None:
    with pytest.raises(ValueError, match="min_epochs"):
        RcpStats(8, 10.0, 1.0, 11.0)
    with pytest.raises(ValueError, match="batch_size"):
        RcpStats(0, 10.0, 1.0, 9.0)
    with pytest.raises(ValueError, match="runs"):
        rcp_stats(8, [1.0, 2.0], submission_runs=5)


# ------------------------------------------------------------------ RCP check, documented cases


def test_resnet_pass_is_scaled() -> None:
    finding = check_rcp([35, 35, 35, 39, 35], 3264, RESNET, submission_runs=5)
    assert finding.outcome is RcpOutcome.PASS
    assert finding.match is RcpMatch.FOUND
    assert finding.submission_mean == pytest.approx(35.0)
    assert finding.reference_mean == pytest.approx(35.154, abs=5e-4)
    assert finding.bound == pytest.approx(34.31, abs=5e-3)
    assert finding.scaling_factor == pytest.approx(1.0044, abs=1e-4)
    assert finding.accepted
    assert "scaled" in finding.message


def test_slower_than_reference_is_not_scaled() -> None:
    finding = check_rcp([36, 36, 37, 38, 36], 3264, RESNET, submission_runs=5)
    assert finding.outcome is RcpOutcome.PASS
    assert finding.scaling_factor == 1.0


def test_resnet_too_fast_fails_and_can_be_bypassed() -> None:
    epochs = [31, 31, 31, 31, 31]
    failed = check_rcp(epochs, 3264, RESNET, submission_runs=5)
    assert failed.outcome is RcpOutcome.FAIL
    assert failed.match is RcpMatch.FOUND
    assert not failed.accepted
    assert "RCP found" in failed.message
    assert "31.0000" in failed.message
    bypassed = check_rcp(epochs, 3264, RESNET, submission_runs=5, bypass=True)
    assert bypassed.outcome is RcpOutcome.BYPASS
    assert bypassed.accepted


def test_non_converged_runs() -> None:
    one = check_rcp([35, None, 35, 36, 35], 3264, RESNET, submission_runs=5)
    assert one.outcome is RcpOutcome.PASS
    two = check_rcp([35, None, 35, None, 35], 3264, RESNET, submission_runs=5, bypass=True)
    assert two.outcome is RcpOutcome.FAIL
    assert two.match is RcpMatch.INSUFFICIENT_CONVERGENCE
    assert two.reference is None


def test_submission_mean_counts_failures_as_slow() -> None:
    assert submission_mean([1.0, None, 2.0, 3.0]) == pytest.approx(2.5)


# ------------------------------------------------------------------ batch size matching

_TWO = {1000: [10.0, 10.0, 11.0, 12.0, 12.0, 13.0], 3000: [20.0, 21.0, 22.0, 22.0, 23.0, 24.0]}


def test_interpolation_between_neighbours(scipy_stats: ModuleType) -> None:
    finding = check_rcp([17.0] * 5, 2000, _TWO, submission_runs=5)
    assert finding.match is RcpMatch.INTERPOLATED
    ref = finding.reference
    assert ref is not None and ref.interpolated
    low = rcp_stats(1000, _TWO[1000], submission_runs=5)
    high = rcp_stats(3000, _TWO[3000], submission_runs=5)
    assert ref.mean == pytest.approx((low.mean + high.mean) / 2)
    assert ref.stdev == pytest.approx((low.stdev + high.stdev) / 2)
    expected = _official_min_epochs(scipy_stats, ref.mean, ref.stdev, 10, 3)  # n_ref = 2 * runs
    assert ref.min_epochs == pytest.approx(expected, abs=1e-12)
    assert finding.outcome is (RcpOutcome.PASS if ref.bound <= 17.0 else RcpOutcome.FAIL)
    assert check_rcp([5.0] * 5, 2000, _TWO, submission_runs=5).outcome is RcpOutcome.FAIL
    assert (
        check_rcp([5.0] * 5, 2000, _TWO, submission_runs=5, bypass=True).outcome
        is RcpOutcome.BYPASS
    )


def test_interpolate_rejects_outside() -> None:
    low = rcp_stats(1000, _TWO[1000], submission_runs=5)
    high = rcp_stats(3000, _TWO[3000], submission_runs=5)
    with pytest.raises(ValueError, match="between"):
        interpolate_rcp(4000, low, high, submission_runs=5)


def test_below_every_rcp() -> None:
    slower = check_rcp([30.0] * 5, 500, _TWO, submission_runs=5)
    assert slower.outcome is RcpOutcome.PASS
    assert slower.match is RcpMatch.SMALLER_BATCH
    assert slower.reference is not None and slower.reference.batch_size == 1000
    faster = check_rcp([5.0] * 5, 500, _TWO, submission_runs=5)
    assert faster.outcome is RcpOutcome.FAIL
    assert faster.match is RcpMatch.MISSING
    assert "BS = 500" in faster.message
    bypassed = check_rcp([5.0] * 5, 500, _TWO, submission_runs=5, bypass=True)
    assert bypassed.outcome is RcpOutcome.BYPASS


def test_above_every_rcp_is_missing() -> None:
    finding = check_rcp([30.0] * 5, 4000, _TWO, submission_runs=5)
    assert finding.outcome is RcpOutcome.FAIL
    assert finding.match is RcpMatch.MISSING
    assert finding.message == "Missing RCP, please submit RCP with BS = 4000"
    assert check_rcp([30.0] * 5, 4000, _TWO, submission_runs=5, bypass=True).accepted


def test_no_rcps() -> None:
    finding = check_rcp([30.0] * 5, 4000, {}, submission_runs=5, bypass=True)
    assert finding.outcome is RcpOutcome.FAIL
    assert finding.match is RcpMatch.NO_RCPS


def test_finding_validates_itself() -> None:
    with pytest.raises(ValueError, match="bypass"):
        RcpFinding(RcpOutcome.BYPASS, RcpMatch.INSUFFICIENT_CONVERGENCE, 8, "x")
    with pytest.raises(ValueError, match="reference"):
        RcpFinding(RcpOutcome.PASS, RcpMatch.FOUND, 8, "x")
    with pytest.raises(ValueError, match="scaling"):
        RcpFinding(RcpOutcome.FAIL, RcpMatch.MISSING, 8, "x", scaling_factor=0.5)


# ------------------------------------------------------------------ pruning


def _point(bs: int, mean: float) -> RcpStats:
    return RcpStats(bs, mean, 0.0, mean)


def test_pruning_drops_small_batches_and_slow_points() -> None:
    points = [_point(256, 40.0), _point(512, 30.0), _point(1024, 40.0), _point(2048, 35.0)]
    kept = prune_rcps(points, submission_runs=5)
    assert [p.batch_size for p in kept] == [512, 2048]
    assert prune_rcps([], submission_runs=5) == ()


def test_pruning_is_the_single_sweep_not_a_convex_hull() -> None:
    # 3 is slower than the 2-4 chord and goes; 2 then lies above the 1-4 chord (11.0) but the
    # sweep never revisits it (mlcommons/logging#368), so it stays.
    points = [_point(1, 10.0), _point(2, 12.0), _point(3, 30.0), _point(4, 13.0)]
    kept = [p.batch_size for p in prune_rcps(points, submission_runs=5)]
    assert kept == [1, 2, 4]


def test_full_pass_keeps_every_point() -> None:
    ref = {512: [9.0, 10.0, 10.0, 10.0, 11.0], 1024: [30.0, 31.0, 31.0, 31.0, 32.0]}
    # Pruned: 1024 is not below 512 and is the last point, so it stays; 256 is absent.
    assert len(reference_stats(ref, submission_runs=5)) == 2
    slow = {**ref, 256: [40.0, 41.0, 41.0, 41.0, 42.0]}
    pruned = check_rcp([40.0] * 5, 256, slow, submission_runs=5)
    full = check_rcp([40.0] * 5, 256, slow, submission_runs=5, pruned=False)
    assert pruned.match is RcpMatch.SMALLER_BATCH
    assert full.match is RcpMatch.FOUND


# ------------------------------------------------------------------ monotonicity


@settings(max_examples=80)
@given(
    st.lists(st.floats(min_value=20.0, max_value=50.0), min_size=5, max_size=5),
    st.lists(st.floats(min_value=0.0, max_value=10.0), min_size=5, max_size=5),
    st.sampled_from([2000, 3264, 5000, 500, 9000]),
)
def test_slower_convergence_never_turns_a_pass_into_a_fail(
    epochs: list[float], extra: list[float], batch_size: int
) -> None:
    reference = {**RESNET, 5000: [40.0, 41.0, 42.0, 42.0, 43.0, 44.0, 45.0]}
    fast = check_rcp(epochs, batch_size, reference, submission_runs=5)
    slower = [e + d for e, d in zip(epochs, extra, strict=True)]
    slow = check_rcp(slower, batch_size, reference, submission_runs=5)
    if fast.outcome is RcpOutcome.PASS:
        assert slow.outcome is RcpOutcome.PASS
    if slow.outcome is RcpOutcome.FAIL:
        assert fast.outcome is RcpOutcome.FAIL
    assert slow.scaling_factor <= fast.scaling_factor
