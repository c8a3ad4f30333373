"""The simulated meter: analytic energy within 1 %, with a fake clock and with its thread."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeter.errors import UsageError
from mlmeter.power._metrics import window_stats
from mlmeter.power._sim import FakeWallClock, SimulatedMeter, from_spec
from mlmeter.power._sim_profiles import Constant, Load, Ramp, Sine, Square
from mlmeter.power._window import PowerWindow

T0 = 1_700_000_000.0
Analytic = Constant | Square | Ramp | Sine  # the profiles with a closed form


def _numeric(profile: Analytic, a: float, b: float, n: int = 20000) -> float:
    """Midpoint rule, independent of the closed forms."""
    h = (b - a) / n
    return math.fsum(profile.power(a + (i + 0.5) * h) for i in range(n)) * h


PROFILES: list[Analytic] = [
    Constant(120.0),
    Square(low=50, high=150, period=0.2, duty=0.3),
    Ramp(start=20, end=220, duration=1.5),
    Sine(mean=100, amplitude=60, period=0.37),
]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
@given(a=st.floats(-3, 3), length=st.floats(0.05, 4))
@settings(max_examples=25, deadline=None)
def test_closed_forms_match_numeric_integrals(profile: Analytic, a: float, length: float) -> None:
    assert profile.energy(a, a + length) == pytest.approx(
        _numeric(profile, a, a + length), rel=2e-3
    )


def _run(meter: SimulatedMeter, clock: FakeWallClock, seconds: float, step: float) -> None:
    meter.start("s_testing")
    for _ in range(round(seconds / step)):
        clock.advance(step)
        meter.samples()


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_reported_energy_equals_the_analytic_value(profile: Analytic) -> None:
    clock = FakeWallClock(T0)
    meter = SimulatedMeter(profile, interval=0.01, clock=clock)
    _run(meter, clock, 5.0, 0.05)
    samples = meter.stop()
    window = PowerWindow(T0 + 0.5037, T0 + 4.4911)  # not on the sample grid
    stats = window_stats(samples, window, interval_s=0.01)
    analytic = profile.energy(window.begin_utc - T0, window.end_utc - T0)
    assert stats.energy_j == pytest.approx(analytic, rel=0.01)
    assert stats.energy_j == pytest.approx(
        meter.expected_energy(window.begin_utc, window.end_utc), rel=1e-3
    )
    assert stats.avg_watts is not None
    assert stats.avg_watts * window.duration_s == pytest.approx(analytic, rel=0.01)
    assert stats.problems == () and stats.coverage == pytest.approx(1.0, abs=0.01)
    assert all(s.mark == "s_testing" and s.volts == 230.0 for s in samples)


def test_fake_clock_samples_lie_on_the_grid_and_average_the_period() -> None:
    clock = FakeWallClock(T0)
    meter = SimulatedMeter(
        Square(low=10, high=30, period=1.0, duty=0.5), interval=0.25, clock=clock
    )
    meter.start("m")
    clock.advance(1.1)
    got = [(round(s.t_utc - T0, 9), s.watts) for s in meter.stop()]
    assert got == [(0.25, 30.0), (0.5, 30.0), (0.75, 10.0), (1.0, 10.0)]


def test_real_thread_at_ten_milliseconds() -> None:
    meter = SimulatedMeter(Sine(mean=100, amplitude=40, period=0.3), interval=0.01)
    try:
        meter.start("live")
        begin = time.time()
        time.sleep(0.7)
        end = time.time()
        time.sleep(0.05)
        samples = meter.stop()
    finally:
        meter.close()
    stats = window_stats(samples, PowerWindow(begin, end), interval_s=0.01)
    assert stats.energy_j == pytest.approx(meter.expected_energy(begin, end), rel=0.01)
    assert stats.coverage > 0.9


def test_noise_and_dropouts_are_seeded() -> None:
    def run(seed: int) -> list[float]:
        clock = FakeWallClock(T0)
        m = SimulatedMeter(
            Constant(100), interval=0.01, seed=seed, noise=5, dropout=0.2, clock=clock
        )
        m.start("x")
        clock.advance(2.0)
        return [s.watts for s in m.stop()]

    a, b, c = run(3), run(3), run(4)
    assert a == b and a != c
    assert 120 < len(a) < 200  # about 80 % of 200 kept
    assert abs(sum(a) / len(a) - 100) < 2.5
    window = PowerWindow(T0, T0 + 2.0)
    clock = FakeWallClock(T0)
    m = SimulatedMeter(Constant(100), interval=0.01, dropout=0.5, seed=1, clock=clock)
    m.start("x")
    clock.advance(2.0)
    assert window_stats(m.stop(), window, 0.01).problems[0].startswith("power samples missing")


def test_load_following_reads_the_callback() -> None:
    clock = FakeWallClock(T0)
    in_flight = [0]
    meter = SimulatedMeter(Load(idle=40, peak=240, full=4), interval=0.1, clock=clock)
    meter.follow(lambda: in_flight[0])
    meter.start("q")
    for n in [0, 1, 2, 4, 8, 3]:
        in_flight[0] = n
        clock.advance(0.1)
        meter.samples()
    watts = [s.watts for s in meter.stop()]
    assert watts == pytest.approx([40, 90, 140, 240, 240, 190])
    assert meter.expected_energy(T0, T0 + 0.6) == pytest.approx(0.1 * sum(watts))


def test_spec_parsing() -> None:
    m = from_spec("profile=square,low=50,high=150,period=0.2,interval=0.01,seed=3")
    assert m.profile == Square(low=50, high=150, period=0.2)
    assert (m.interval, m.seed) == (0.01, 3)
    info = m.identify()
    assert info.kind == "sim" and not info.valid_for_closed and not info.needs_ranging
    assert info.model == "simulated (square)" and info.details["period"] == 0.2
    assert from_spec("").profile == Constant()
    m.close()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("profile=square,wat=3", "unknown --power sim option 'wat' for profile=square: use low,"),
        ("profile=tri", "unknown sim profile 'tri'"),
        ("low", "expected key=value"),
        ("watts=abc", "watts must be a number"),
        ("profile=square,period=0", "period must be > 0"),
        ("interval=-1", "interval > 0"),
    ],
)
def test_bad_specs_are_one_line_usage_errors(spec: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        from_spec(spec)
    assert message in str(info.value) and "\n" not in str(info.value)
