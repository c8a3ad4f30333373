"""The schedule layer: libstdc++ replicas (``_rng``) and ``generate_schedule``.

The ``_rng`` golden numbers were printed by a C++17 program built with g++ 12
(the official wheel is built with GCC 14; these algorithms are unchanged since
GCC 11). The official wheel itself is compared in
``tests/integration/test_schedule_matches_official.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeter.errors import SettingsError
from mlmeter.loadgen._rng import (
    StdMt19937,
    bounded,
    exponential,
    generate_canonical,
    shuffle,
    uniform_int,
    uniform_real01,
)
from mlmeter.loadgen.schedule import (
    Schedule,
    accuracy_log_offset,
    accuracy_log_values,
    generate_loadable_sets,
    generate_schedule,
)

QSL_SEED = 2085463073848966840
SAMPLE_SEED = 2747215439041700203
SCHEDULE_SEED = 16159082839903944936


def _lemire_scalar(gen: StdMt19937, r: int) -> int:
    """The textbook nearly-divisionless draw, one raw value at a time."""
    threshold = (2**32 - r) % r
    while True:
        product = gen.next_u32() * r
        if product & 0xFFFF_FFFF >= threshold:
            return product >> 32


def test_mt19937_10000th_output_is_the_standards() -> None:
    # [rand.predef]: the 10000th invocation of a default-constructed mt19937.
    assert int(StdMt19937(5489).next_u32_block(10000)[-1]) == 4123659995


def test_seed_keeps_the_low_32_bits() -> None:
    expected = [419326371, 479346978]
    assert StdMt19937(2**64 - 1).next_u32_block(2).tolist() == expected
    assert StdMt19937(2**32 - 1).next_u32_block(2).tolist() == expected


@pytest.mark.parametrize("seed", [-1, 2**64])
def test_seed_out_of_range_is_rejected(seed: int) -> None:
    with pytest.raises(ValueError, match="seed"):
        StdMt19937(seed)


def test_blocks_and_single_draws_are_one_stream() -> None:
    whole = StdMt19937(7).next_u32_block(1500)
    gen = StdMt19937(7)
    parts = [gen.next_u32_block(1000), np.array([gen.next_u32()], dtype=np.uint32)]
    parts.append(gen.next_u32_block(499))
    assert np.array_equal(np.concatenate(parts), whole)


def test_unread_values_come_back_first() -> None:
    gen = StdMt19937(3)
    head = gen.next_u32_block(5)
    gen.unread(head[2:])
    assert np.array_equal(gen.next_u32_block(3), head[2:])
    assert np.array_equal(gen.next_u32_block(2), StdMt19937(3).next_u32_block(7)[5:])


def test_uniform_int_matches_libstdcxx() -> None:
    draws = uniform_int(StdMt19937(SAMPLE_SEED), 0, 99, 10)
    assert draws.tolist() == [79, 95, 50, 28, 65, 69, 11, 65, 88, 86]


def test_uniform_int_skips_a_rejected_draw() -> None:
    # Range 3: threshold (2**32 - 3) % 3 == 1, so a raw 0 (low word 0) is rejected.
    gen = StdMt19937(11)
    fresh = StdMt19937(11).next_u32_block(1)
    gen.unread(np.array([0, 5], dtype=np.uint32))
    assert uniform_int(gen, 0, 2, 1).tolist() == [0]  # (5 * 3) >> 32
    assert gen.next_u32_block(1).tolist() == fresh.tolist()


def test_uniform_int_full_range_returns_raw_values() -> None:
    raw = StdMt19937(5).next_u32_block(4).astype(np.int64)
    assert np.array_equal(uniform_int(StdMt19937(5), 10, 10 + 2**32 - 1, 4), raw + 10)


def test_uniform_int_rejects_too_wide_a_range() -> None:
    with pytest.raises(ValueError, match="hi - lo"):
        uniform_int(StdMt19937(5), 0, 2**32, 1)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**64 - 1),
    ranges=st.lists(
        st.one_of(
            st.integers(1, 100),
            st.integers(2**31 - 50, 2**31 + 50),  # up to ~50 % rejections
            st.integers(1, 2**32 - 1),
        ),
        min_size=1,
        max_size=300,
    ),
)
def test_bounded_equals_the_scalar_algorithm(seed: int, ranges: list[int]) -> None:
    gen = StdMt19937(seed)
    got = bounded(gen, np.array(ranges, dtype=np.uint64)).tolist()
    ref_gen = StdMt19937(seed)
    assert got == [_lemire_scalar(ref_gen, r) for r in ranges]
    assert gen.next_u32() == ref_gen.next_u32()


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (10, [1, 5, 7, 6, 0, 8, 3, 2, 9, 4]),
        (11, [2, 5, 1, 7, 3, 10, 9, 8, 6, 4, 0]),
    ],
)
def test_small_shuffles_match_libstdcxx(n: int, expected: list[int]) -> None:
    gen = StdMt19937(QSL_SEED)
    values = np.arange(n, dtype=np.int64)
    shuffle(gen, values)
    assert values.tolist() == expected
    assert gen.next_u32() == 1312898738  # both take five paired draws


def test_paired_shuffle_with_heavy_rejection_matches_libstdcxx() -> None:
    # n = 50000: pair ranges (i + 1)(i + 2) pass 2**31, where Lemire rejects often.
    gen = StdMt19937(QSL_SEED)
    values = np.arange(50000, dtype=np.int64)
    shuffle(gen, values)
    assert values[:8].tolist() == [26417, 6860, 15735, 37676, 30734, 40581, 20059, 35201]
    assert gen.next_u32() == 2909891858


def test_single_draw_shuffle_matches_libstdcxx() -> None:
    # n > 65535: n * n no longer fits in 32 bits, one draw per swap.
    gen = StdMt19937(1)
    values = np.arange(70000, dtype=np.int64)
    shuffle(gen, values)
    assert values[:5].tolist() == [7199, 23693, 65840, 9893, 62829]
    assert gen.next_u32() == 2351114507


@pytest.mark.parametrize("n", [0, 1])
def test_trivial_shuffles_draw_nothing(n: int) -> None:
    gen = StdMt19937(9)
    shuffle(gen, np.arange(n, dtype=np.int64))
    assert gen.next_u32() == StdMt19937(9).next_u32()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), n=st.integers(0, 3000))
def test_shuffle_is_a_permutation(seed: int, n: int) -> None:
    values = np.arange(n, dtype=np.int64)
    shuffle(StdMt19937(seed), values)
    assert sorted(values.tolist()) == list(range(n))


def test_exponential_matches_libstdcxx() -> None:
    gaps = exponential(StdMt19937(SCHEDULE_SEED), 1000.0, 6)
    assert gaps[0] == 0.0018436540169155279
    assert gaps[1] == 0.00045792368870575258
    ns = (gaps * 1e9).astype(np.int64)  # duration_cast<nanoseconds> truncates
    assert ns.tolist() == [1843654, 457923, 1285862, 712994, 386406, 2248341]


def test_exponential_rejects_a_bad_rate() -> None:
    with pytest.raises(ValueError, match="lambda"):
        exponential(StdMt19937(1), 0.0, 1)


def test_uniform_real_matches_libstdcxx() -> None:
    draws = uniform_real01(StdMt19937(5489), 3)
    assert draws.tolist() == [0.1354770042967805, 0.8350085899945795, 0.96886777112423139]


def test_generate_canonical_never_returns_one() -> None:
    gen = StdMt19937(1)
    top = np.array([2**32 - 1, 2**32 - 1], dtype=np.uint32)  # sums to 2**64 after rounding
    gen.unread(top)
    assert generate_canonical(gen, 1)[0] == math.nextafter(1.0, 0.0)


def test_generate_canonical_takes_two_draws_each() -> None:
    raw = StdMt19937(4).next_u32_block(6).astype(np.float64)
    expected = (raw[0::2] + raw[1::2] * 2.0**32) / 2.0**64
    assert np.array_equal(generate_canonical(StdMt19937(4), 3), expected)


# --------------------------------------------------------------------------------------
# generate_schedule

SEEDS = {
    "qsl_rng_seed": QSL_SEED,
    "sample_index_rng_seed": SAMPLE_SEED,
    "schedule_rng_seed": SCHEDULE_SEED,
}


def _schedule(**overrides: Any) -> Schedule:
    kwargs: dict[str, Any] = {
        "scenario": "SingleStream",
        "mode": "PerformanceOnly",
        "total_sample_count": 1000,
        "performance_sample_count": 100,
        "samples_per_query": 1,
        "min_query_count": 10,
        "min_duration_ms": 50,
        "target_qps": 1000.0,
        **SEEDS,
    }
    kwargs.update(overrides)
    return generate_schedule(**kwargs)


def _counts(values: np.ndarray[Any, Any], size: int) -> list[int]:
    return [int(c) for c in np.bincount(values, minlength=size)]


def _assert_same(a: Schedule, b: Schedule) -> None:
    assert np.array_equal(a.sample_index, b.sample_index)
    assert np.array_equal(a.query_start, b.query_start)
    assert np.array_equal(a.scheduled_ns, b.scheduled_ns)
    assert all(np.array_equal(x, y) for x, y in zip(a.loadable_sets, b.loadable_sets, strict=True))


@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream", "Server", "Offline"])
def test_same_seeds_give_the_same_schedule(scenario: str) -> None:
    spq = 4 if scenario == "MultiStream" else 1
    one = _schedule(scenario=scenario, samples_per_query=spq)
    _assert_same(one, _schedule(scenario=scenario, samples_per_query=spq))


@pytest.mark.parametrize("seed", ["qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed"])
def test_each_seed_changes_what_it_names(seed: str) -> None:
    base = _schedule(scenario="Server")
    other = _schedule(scenario="Server", **{seed: 12345})
    same_sets = np.array_equal(base.loadable_sets[0], other.loadable_sets[0])
    same_times = np.array_equal(base.scheduled_ns, other.scheduled_ns)
    assert same_sets == (seed != "qsl_rng_seed")
    assert same_times == (seed != "schedule_rng_seed")
    if seed == "sample_index_rng_seed":
        assert not np.array_equal(base.sample_index, other.sample_index)


def test_arrays_are_read_only() -> None:
    schedule = _schedule()
    with pytest.raises(ValueError, match="read-only"):
        schedule.sample_index[0] = 1
    with pytest.raises(ValueError, match="read-only"):
        schedule.loadable_sets[0][0] = 1


def test_loadable_sets_cut_a_shuffled_range() -> None:
    sets = generate_loadable_sets(10, 4, 0, 1)
    assert [s.size for s in sets] == [4, 4, 2]
    assert sorted(np.concatenate(sets).tolist()) == list(range(10))


def test_multistream_padding_repeats_the_set_cyclically() -> None:
    (padded,) = generate_loadable_sets(3, 3, 7, 1)
    assert padded.tolist() == np.resize(padded[:3], 10).tolist()


def test_performance_mode_loads_only_the_first_performance_count_indices() -> None:
    schedule = _schedule(total_sample_count=1000, performance_sample_count=100)
    assert sorted(schedule.loadable_sets[0].tolist()) == list(range(100))
    assert len(schedule.loadable_sets) == 1


def test_single_stream_generates_twice_the_duration() -> None:
    # 2 x 50 ms at a 1 ms period: queries at 0 .. 100 ms, the last one at >= 100 ms.
    schedule = _schedule()
    assert schedule.query_count == 101
    assert schedule.scheduled_ns.tolist() == [k * 1_000_000 for k in range(101)]
    assert schedule.set_duration_ns.tolist() == [101_000_000]


def test_min_query_count_wins_when_larger() -> None:
    assert _schedule(min_query_count=500).query_count == 500


def test_period_truncates_to_whole_nanoseconds() -> None:
    schedule = _schedule(target_qps=1e9 / 333333, min_duration_ms=1, min_query_count=0)
    assert np.diff(schedule.scheduled_ns).tolist() == [333333] * (schedule.query_count - 1)


def test_multistream_queries_are_contiguous_in_the_padded_set() -> None:
    spq = 8
    schedule = _schedule(scenario="MultiStream", samples_per_query=spq, target_qps=1000.0)
    padded = schedule.loadable_sets[0]
    assert padded.size == 100 + spq - 1
    position = {int(v): i for i, v in enumerate(padded[:100])}
    for q in range(schedule.query_count):
        query = schedule.query(q)
        start = position[int(query[0])]
        assert query.tolist() == padded[start : start + spq].tolist()


def test_server_gaps_have_the_requested_mean() -> None:
    qps = 5000.0
    schedule = _schedule(scenario="Server", target_qps=qps, min_duration_ms=20_000)
    gaps = np.diff(schedule.scheduled_ns) / 1e9
    n = gaps.size
    # Exponential gaps: the mean's standard error is (1 / qps) / sqrt(n); allow 5 of them.
    assert abs(gaps.mean() - 1 / qps) < 5 * (1 / qps) / math.sqrt(n)
    assert abs(gaps.std() - 1 / qps) < 0.05 / qps


def test_server_covers_the_duration_and_stops_there() -> None:
    schedule = _schedule(scenario="Server", target_qps=2000.0, min_duration_ms=100)
    times = schedule.scheduled_ns
    assert times[0] == 0
    assert np.all(np.diff(times) >= 0)
    assert times[-1] >= 100_000_000 > times[-2]


def test_offline_is_one_query_of_the_loaded_set_repeated() -> None:
    schedule = _schedule(scenario="Offline", target_qps=5000.0, min_duration_ms=100)
    spq = int(1.1 * 0.1 * 5000.0)
    assert schedule.samples_per_query == spq == 550
    assert schedule.query_start.tolist() == [0, spq]
    assert schedule.sample_index.tolist() == np.resize(schedule.loadable_sets[0], spq).tolist()
    assert (schedule.min_query_count, schedule.target_duration_ms) == (1, 0)


def test_offline_min_query_count_is_a_sample_floor() -> None:
    schedule = _schedule(scenario="Offline", target_qps=1.0, min_query_count=777)
    assert schedule.sample_index.size == 777


@pytest.mark.parametrize("scenario", ["SingleStream", "Server", "Offline"])
def test_accuracy_mode_issues_every_sample_once(scenario: str) -> None:
    schedule = _schedule(scenario=scenario, mode="AccuracyOnly", target_qps=1e5)
    assert _counts(schedule.sample_index, 1000) == [1] * 1000
    assert schedule.set_query_start.size == len(schedule.loadable_sets) + 1 == 11


def test_accuracy_mode_multistream_repeats_only_padding() -> None:
    spq = 8
    schedule = _schedule(scenario="MultiStream", mode="AccuracyOnly", samples_per_query=spq)
    counts = np.bincount(schedule.sample_index, minlength=1000)
    assert counts.min() == 1
    # Each set of 100 takes 13 queries of 8: 4 padding samples repeat per set.
    assert int(counts.sum()) == 10 * 13 * spq
    for s, loaded in enumerate(schedule.loadable_sets):
        first, last = schedule.set_query_start[s], schedule.set_query_start[s + 1]
        issued = schedule.sample_index[schedule.query_start[first] : schedule.query_start[last]]
        assert sorted(set(issued.tolist())) == sorted(loaded[:100].tolist())


def test_accuracy_sample_count_limits_the_pool() -> None:
    schedule = _schedule(mode="AccuracyOnly", accuracy_sample_count=450)
    assert [s.size for s in schedule.loadable_sets] == [100, 100, 100, 100, 50]
    assert sorted(schedule.sample_index.tolist()) == list(range(450))


@pytest.mark.parametrize("scenario", ["SingleStream", "Server"])
def test_equal_issue_blocks_are_permutations_of_the_loaded_set(scenario: str) -> None:
    schedule = _schedule(scenario=scenario, sample_concatenate_permutation=True)
    loaded = sorted(schedule.loadable_sets[0].tolist())
    assert schedule.query_count % 100 == 0
    for block in schedule.sample_index.reshape(-1, 100):
        assert sorted(block.tolist()) == loaded


def test_equal_issue_single_stream_count_always_adds_a_set() -> None:
    # max(min_query_count, 2 x 0.05 s x 1000 qps) = 100 -> 100 + 100.
    assert _schedule(sample_concatenate_permutation=True).min_query_count == 200
    assert _schedule(sample_concatenate_permutation=True, min_query_count=250).query_count == 300


def test_equal_issue_offline_pads_to_whole_sets() -> None:
    schedule = _schedule(
        scenario="Offline",
        target_qps=5000.0,
        min_duration_ms=100,
        sample_concatenate_permutation=True,
    )
    assert schedule.samples_per_query == 600
    loaded = sorted(schedule.loadable_sets[0].tolist())
    for block in schedule.sample_index.reshape(-1, 100):
        assert sorted(block.tolist()) == loaded


def test_performance_issue_unique_issues_each_loaded_sample_once() -> None:
    schedule = _schedule(performance_issue_unique=True)
    assert sorted(schedule.sample_index.tolist()) == sorted(schedule.loadable_sets[0].tolist())


def test_performance_issue_same_repeats_one_sample() -> None:
    schedule = _schedule(performance_issue_same=True, performance_issue_same_index=7)
    assert set(schedule.sample_index.tolist()) == {int(schedule.loadable_sets[0][7])}
    assert schedule.query_count == 101


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"scenario": "Streaming"}, "scenario"),
        ({"mode": "Submission"}, "mode"),
        ({"total_sample_count": 0}, "total_sample_count"),
        ({"performance_sample_count": 0}, "performance_sample_count"),
        ({"samples_per_query": 2}, "samples_per_query"),
        ({"min_query_count": -1}, "min_query_count"),
        ({"target_qps": 0.0}, "target_qps"),
        ({"target_qps": math.inf}, "target_qps"),
        ({"qsl_rng_seed": 2**64}, "qsl_rng_seed"),
        ({"performance_issue_same": True, "performance_issue_same_index": 100}, "same_index"),
        ({"performance_issue_same": True, "performance_issue_unique": True}, "exclude"),
        ({"target_qps": 3e9}, "target_qps"),
        (
            {"scenario": "Server", "sample_concatenate_permutation": True, "min_query_count": 0},
            "min_query_count",
        ),
    ],
)
def test_bad_settings_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(SettingsError, match=field):
        _schedule(**overrides)


def test_accuracy_log_draws_match_libstdcxx() -> None:
    assert accuracy_log_values(3).tolist() == uniform_real01(StdMt19937(5489), 3).tolist()
    assert accuracy_log_offset(5489) == 0.1354770042967805


_scenarios = st.sampled_from(["SingleStream", "MultiStream", "Server", "Offline"])


@settings(max_examples=60, deadline=None)
@given(
    scenario=_scenarios,
    accuracy=st.booleans(),
    equal_issue=st.booleans(),
    total=st.integers(1, 300),
    psc=st.integers(1, 120),
    spq=st.integers(1, 9),
    min_query_count=st.integers(1, 300),
    min_duration_ms=st.integers(0, 30),
    qps=st.floats(100.0, 20000.0),
    seed=st.integers(0, 2**64 - 1),
)
def test_schedule_invariants(
    scenario: str,
    accuracy: bool,
    equal_issue: bool,
    total: int,
    psc: int,
    spq: int,
    min_query_count: int,
    min_duration_ms: int,
    qps: float,
    seed: int,
) -> None:
    schedule = _schedule(
        scenario=scenario,
        mode="AccuracyOnly" if accuracy else "PerformanceOnly",
        total_sample_count=total,
        performance_sample_count=psc,
        samples_per_query=spq if scenario == "MultiStream" else 1,
        min_query_count=min_query_count,
        min_duration_ms=min_duration_ms,
        target_qps=qps,
        sample_concatenate_permutation=equal_issue,
        qsl_rng_seed=seed,
        sample_index_rng_seed=seed ^ 1,
        schedule_rng_seed=seed ^ 2,
    )
    starts = schedule.query_start
    assert starts[0] == 0 and starts[-1] == schedule.sample_index.size
    assert np.all(np.diff(starts) >= 1)
    assert np.all(np.diff(schedule.scheduled_ns[: schedule.set_query_start[1]]) >= 0)
    pool = set(np.concatenate(schedule.loadable_sets).tolist())
    assert set(schedule.sample_index.tolist()) <= pool
    if accuracy:
        assert set(schedule.sample_index.tolist()) == pool
    elif scenario != "Offline":
        assert schedule.query_count >= schedule.min_query_count
        horizon = (1 if scenario == "Server" else 2) * min_duration_ms * 1_000_000
        assert min_duration_ms == 0 or schedule.scheduled_ns[-1] >= horizon
