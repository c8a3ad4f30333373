"""MLPerf's power numbers from samples: pure functions returning frozen results.

Formulas (mlcommons/inference ``power_check.py``; training ``power_measurement.adoc``):

* ``avg_watts``: mean W of the samples with ``begin < t < end`` and ``W > 0``.
* Offline / Server / Interactive: the metric is ``avg_watts`` (W); efficiency is
  samples/s / W = samples per joule.
* SingleStream / MultiStream: ``avg_watts x duration_s x 1000 / result_query_count``
  millijoules per query; efficiency ``samples_per_query x 1000 / mJ`` samples per joule.
* Training: energy = sum(reading x interval) over run_start..run_stop, at >= 1 Hz and at
  least 60 samples.
* Ranging vs testing: ``round((testing / ranging - 1) x 100, 2)`` must be > -5 %.

Energy as *reading x interval*: each reading stands for the interval since the previous
reading (the first one from the window's start) and the last reading also holds to the
window's end, so the intervals tile the window exactly. That is the training rules' sum, and
it is exact for what meters report: an analyzer's reading (and a counter's difference) is the
average power over its update period ending at the stamp. The trapezoid would instead assume
power varies linearly between instantaneous readings, which no meter here reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlmeter.errors import UsageError
from mlmeter.power._model import PowerSample
from mlmeter.power._window import PowerWindow, in_window

MIN_COVERAGE = 0.9
RANGING_TOLERANCE_PCT = 5.0
_THROUGHPUT = {"offline": "Offline", "server": "Server", "interactive": "Interactive"}
_PER_QUERY = {"singlestream": ("SingleStream", 1), "multistream": ("MultiStream", 8)}


def interval_energy(samples: Sequence[PowerSample], start: float, stop: float) -> float:
    """Joules as sum(reading x interval) over ``[start, stop]`` (see the module docstring);
    ``samples`` in time order, all inside ``[start, stop]``."""
    energy, prev = 0.0, start
    for s in samples:
        energy += s.watts * (s.t_utc - prev)
        prev = s.t_utc
    if samples:
        energy += samples[-1].watts * (stop - prev)
    return energy


@dataclass(frozen=True)
class WindowStats:
    """What the samples inside a power window say; ``avg_watts`` is None without samples."""

    window: PowerWindow
    samples: int
    expected_samples: float
    coverage: float
    avg_watts: float | None
    min_watts: float | None
    max_watts: float | None
    energy_j: float | None
    problems: tuple[str, ...] = ()


def window_stats(
    samples: Sequence[PowerSample],
    window: PowerWindow,
    interval_s: float,
    min_coverage: float = MIN_COVERAGE,
) -> WindowStats:
    """Average, range, energy and coverage (samples found / expected at ``interval_s``)."""
    kept = in_window(samples, window)
    expected = window.duration_s / interval_s
    coverage = len(kept) / expected if expected > 0 else (1.0 if kept else 0.0)
    problems = _coverage_problems(len(kept), expected, coverage, window, min_coverage)
    if not kept:
        return WindowStats(window, 0, expected, coverage, None, None, None, None, problems)
    watts = [s.watts for s in kept]
    energy = interval_energy(kept, window.begin_utc, window.end_utc)
    avg = sum(watts) / len(watts)
    return WindowStats(
        window, len(kept), expected, coverage, avg, min(watts), max(watts), energy, problems
    )


def _coverage_problems(
    found: int, expected: float, coverage: float, window: PowerWindow, min_coverage: float
) -> tuple[str, ...]:
    if found > 0 and coverage >= min_coverage:
        return ()
    return (
        f"power samples missing: {found} samples with W > 0 in the {window.duration_s:.3f} s"
        f" window, {expected:.0f} expected (coverage {coverage * 100:.1f} %,"
        f" at least {min_coverage * 100:.0f} % needed)",
    )


@dataclass(frozen=True)
class InferencePower:
    """The reported power metric of one inference run."""

    scenario: str
    avg_watts: float
    duration_s: float
    energy_j: float  # avg_watts x duration_s, the energy the official metric implies
    metric: float  # W (Offline/Server/Interactive) or mJ per query (SingleStream/MultiStream)
    metric_unit: str  # "Watts" | "millijoules"
    samples_per_joule: float


def inference_power(
    scenario: str,
    avg_watts: float,
    duration_s: float,
    *,
    samples_per_second: float | None = None,
    query_count: int | None = None,
    samples_per_query: int | None = None,
) -> InferencePower:
    """The official metric for ``scenario``: throughput scenarios need
    ``samples_per_second``, per-query scenarios ``query_count`` (``samples_per_query``
    defaults to 1 for SingleStream, 8 for MultiStream)."""
    key = scenario.replace("-", "").replace("_", "").replace(" ", "").lower()
    energy = avg_watts * duration_s
    if key in _THROUGHPUT:
        if samples_per_second is None:
            raise UsageError(f"{scenario}: the power metric needs samples_per_second")
        spj = samples_per_second / avg_watts
        return InferencePower(
            _THROUGHPUT[key], avg_watts, duration_s, energy, avg_watts, "Watts", spj
        )
    if key in _PER_QUERY:
        name, default_spq = _PER_QUERY[key]
        if not query_count:
            raise UsageError(f"{scenario}: the power metric needs result_query_count > 0")
        mj = energy * 1000 / query_count
        spj = (samples_per_query or default_spq) * 1000 / mj
        return InferencePower(name, avg_watts, duration_s, energy, mj, "millijoules", spj)
    known = "Offline, Server, Interactive, SingleStream, MultiStream"
    raise UsageError(f"unknown scenario {scenario!r} for power metrics: use one of {known}")


@dataclass(frozen=True)
class TrainingEnergy:
    """Energy of one training run: sum(reading x interval) over run_start..run_stop."""

    energy_j: float
    samples: int
    duration_s: float
    rate_hz: float
    problems: tuple[str, ...] = ()


def training_energy(
    samples: Sequence[PowerSample],
    run_start: float,
    run_stop: float,
    *,
    min_rate_hz: float = 1.0,
    min_samples: int = 60,
) -> TrainingEnergy:
    """Training energy with the rules' ">= 1 reading per second" and ">= 60 samples" as
    problems (times in UTC seconds)."""
    kept = sorted((s for s in samples if run_start <= s.t_utc <= run_stop), key=lambda s: s.t_utc)
    duration = run_stop - run_start
    rate = len(kept) / duration if duration > 0 else 0.0
    problems: list[str] = []
    if rate < min_rate_hz:
        problems.append(
            f"power sampled at {rate:.3f} Hz over {duration:.1f} s: the training power rules"
            f" need at least {min_rate_hz:g} reading per second"
        )
    if len(kept) < min_samples:
        problems.append(
            f"only {len(kept)} power samples in the run: the training power rules need at"
            f" least {min_samples} (extend the run)"
        )
    energy = interval_energy(kept, run_start, run_stop)
    return TrainingEnergy(energy, len(kept), duration, rate, tuple(problems))


def ranging_problems(
    ranging_watts: float, testing_watts: float, tolerance_pct: float = RANGING_TOLERANCE_PCT
) -> tuple[str, ...]:
    """The checker's rule: testing average power may not be more than 5 % below ranging
    (rounded as ``compliance/check.py`` rounds: W to 5 places, the delta to 2)."""
    ranging, testing = round(ranging_watts, 5), round(testing_watts, 5)
    if ranging <= 0:
        return (f"ranging average power is {ranging} W: the ranging run has no valid samples",)
    delta = round((testing / ranging - 1) * 100, 2)
    if delta > -tolerance_pct:
        return ()
    return (
        f"testing average power {testing} W is {-delta:.2f} % below ranging {ranging} W"
        f" (more than {tolerance_pct:g} %): rerun so both runs see the same load",
    )
