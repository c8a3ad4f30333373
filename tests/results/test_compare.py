"""The comparison rule: properties (hypothesis) and a worked example."""

from __future__ import annotations

import math
import statistics

from hypothesis import assume, given
from hypothesis import strategies as st

from mlmeter.results._compare import compare, delta
from mlmeter.results._model import RunRow

values = st.lists(st.floats(0.01, 1e6, allow_nan=False), min_size=1, max_size=8)
factors = st.floats(1e-3, 1e3)


def _row(value: float | None, system: str = "s", higher: bool = True) -> RunRow:
    return RunRow(0, "", "run", "inference", "", "", system, "resnet50", "Offline",
                  "m", value, "samples/s", True, higher)  # fmt: skip


@given(values)
def test_same_runs_on_both_sides_change_nothing(a: list[float]) -> None:
    d = delta(("s", "b", "Offline"), "u", True, a, a)
    assert d.change is not None and math.isclose(d.change, 0, abs_tol=1e-12)
    assert d.significant in (None, False)
    assert d.significant is (None if len(a) < 2 else False)


@given(values, values, factors)
def test_scaling_every_value_changes_no_verdict(a: list[float], b: list[float], k: float) -> None:
    d1 = delta(("s", "b", ""), "u", True, a, b)
    d2 = delta(("s", "b", ""), "u", True, [x * k for x in a], [x * k for x in b])
    assert d1.change is not None and d2.change is not None
    assert math.isclose(d1.change, d2.change, rel_tol=1e-9, abs_tol=1e-9)
    if d1.noise is None:
        assert d2.noise is None and d2.significant is None
    else:
        assert d2.noise is not None and math.isclose(d1.noise, d2.noise, rel_tol=1e-6, abs_tol=1e-9)
        margin = abs(abs(d1.change) - d1.noise)
        assume(margin > 1e-6)  # away from the boundary, rounding cannot flip it
        assert d1.significant == d2.significant


@given(values, values, st.booleans())
def test_significant_only_beyond_noise(a: list[float], b: list[float], higher: bool) -> None:
    d = delta(("s", "b", ""), "u", higher, a, b)
    assert d.change is not None
    if len(a) < 2 and len(b) < 2:
        assert d.noise is None and d.significant is None
    else:
        assert d.noise is not None
        assert d.significant == (abs(d.change) > d.noise)
    if d.change != 0:
        assert d.better == ((d.change > 0) == higher)


@given(values, values)
def test_swapping_sides_flips_the_direction(a: list[float], b: list[float]) -> None:
    ab, ba = delta(("s", "", ""), "u", True, a, b), delta(("s", "", ""), "u", True, b, a)
    assert ab.noise == ba.noise
    assert ab.change is not None and ba.change is not None
    assert (ab.change > 0) == (ba.change < 0) or ab.change == ba.change == 0


def test_a_worked_example() -> None:
    a = [_row(100.0), _row(102.0), _row(98.0), _row(50.0, system="other", higher=False)]
    b = [_row(110.0), _row(112.0), _row(None), _row(7.0, system="new")]
    new, other, s = compare(a, b)
    # s: mean 100 -> 111: +11 %; noise = max CV(100,102,98)=0.02, CV(110,112)=0.0128...
    assert s.key == ("s", "resnet50", "Offline") and s.b == (110.0, 112.0)
    assert math.isclose(s.change or 0, 0.11)
    expected_noise = max(statistics.stdev([100, 102, 98]) / 100, statistics.stdev([110, 112]) / 111)
    assert math.isclose(s.noise or 0, expected_noise)
    assert s.significant is True and s.better is True
    assert (other.a, other.b, other.change, other.significant) == ((50.0,), (), None, None)
    assert (new.a, new.change, new.better) == ((), None, None)


def test_within_noise_and_lower_is_better() -> None:
    d = delta(("s", "b", "SingleStream"), "ms", False, [10.0, 12.0], [10.5])
    assert d.change is not None and math.isclose(d.change, 10.5 / 11 - 1)
    assert d.noise is not None and d.significant is False and d.better is True
