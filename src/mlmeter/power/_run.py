"""Power runs: the loadgen run(s) under a meter, then the window join and the metrics.

``run_with_power(sut, qsl, settings, logs, meter)``: a meter that needs ranging (an analyzer)
gets two runs, as officially (reference §1.4): a *ranging* run into ``OUTDIR/ranging/``
(``meter.start("<session>_ranging", "ranging")``), then the *testing* run into ``OUTDIR``
itself, so the normal logs stay where every tool expects them; other meters get one run.
After each run the samples strictly inside that run's ``power_begin``/``power_end`` with
W > 0 count (``window_stats``, with coverage); the testing run gives the scenario's metric
(``inference_power``), and ranging vs testing is checked (5 %). Problems make the *power*
result INVALID, never the performance result. A meter error (``PowerError``,
``MeterUnavailable``) ends the run with its one-line reason; the logs already written are
kept, and the meter is always closed. ``_run_files`` writes what the run found.
"""

from __future__ import annotations

import datetime as _dt
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlmeter.errors import UsageError, UserError
from mlmeter.loadgen import QSL, SUT, LogSettings, Progress, TestResult, start_test
from mlmeter.power._director_meter import DirectorMeter
from mlmeter.power._metrics import (
    InferencePower,
    WindowStats,
    inference_power,
    ranging_problems,
    window_stats,
)
from mlmeter.power._model import Meter, MeterInfo, MeterUnavailable, PowerError, PowerSample
from mlmeter.power._ptd import PtdMeter
from mlmeter.power._run_files import write_power_files
from mlmeter.power._window import window_from_detail
from mlmeter.settings import TestMode, TestSettings

RANGING_DIR = "ranging"


@dataclass(frozen=True)
class PhaseResult:
    """One loadgen run under the meter: its samples and what they say in its window."""

    phase: str  # "ranging" | "testing"
    mark: str  # the meter's mark, "<session>_<phase>"
    result: TestResult
    samples: tuple[PowerSample, ...] = ()
    stats: WindowStats | None = None  # None when the run logged no window
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class PowerRunResult:
    """What ``run_with_power`` measured; ``valid`` is the *power* result's verdict."""

    meter: MeterInfo
    interval_s: float
    scenario: str
    phases: tuple[PhaseResult, ...]  # in run order: ranging first when there was one
    metric: InferencePower | None
    problems: tuple[str, ...]
    error: str = ""  # the meter error that ended the run, "" if none
    clock: dict[str, Any] | None = None
    extras: dict[str, Any] | None = None  # ptd: messages and ptd_out.txt text

    def phase(self, name: str) -> PhaseResult | None:
        """The ``ranging`` or ``testing`` phase, if it ran."""
        return next((p for p in self.phases if p.phase == name), None)

    @property
    def result(self) -> TestResult | None:
        """The testing run's performance result (None if it never ran)."""
        testing = self.phase("testing")
        return None if testing is None else testing.result

    @property
    def valid(self) -> bool:
        """VALID: no meter error, no problem, and a metric."""
        return not self.error and not self.problems and self.metric is not None

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the power result is INVALID (empty when VALID)."""
        out = ((self.error,) if self.error else ()) + self.problems
        if not out and self.metric is None:
            out = ("no power metric: the testing run gave no samples or no result",)
        return out


def default_session(now: _dt.datetime | None = None) -> str:
    """``YYYY-MM-DD_HH-MM-SS_mlmeter`` in UTC, as the official session names."""
    return (now or _dt.datetime.now(_dt.UTC)).strftime("%Y-%m-%d_%H-%M-%S") + "_mlmeter"


def check_mode(settings: TestSettings) -> None:
    """A power run is a performance run (the loadgen logs its window only there)."""
    if settings.mode is not TestMode.PERFORMANCE_ONLY:
        raise UsageError("--power measures a performance run: use --mode performance")


def run_with_power(
    sut: SUT,
    qsl: QSL,
    settings: TestSettings,
    logs: LogSettings,
    meter: Meter,
    *,
    progress: Progress | None = None,
    session: str | None = None,
) -> PowerRunResult:
    """Run ``settings`` under ``meter`` (ranging + testing where it needs it), analyse the
    windows and write the power files (``_run_files.write_power_files``)."""
    outdir = Path(logs.outdir)
    session = session or default_session()
    raw: list[PhaseResult] = []
    error, extras, info = "", None, None
    try:
        check_mode(settings)
        info = meter.identify()
        if isinstance(meter, DirectorMeter):
            meter.output_dir = outdir  # the official files land in the run's folder
        for phase in ("ranging", "testing") if info.needs_ranging else ("testing",):
            run_logs = replace(logs, outdir=outdir / RANGING_DIR) if phase == "ranging" else logs
            _one_phase(
                meter, phase, f"{session}_{phase}", (sut, qsl, settings, run_logs), raw, progress
            )
            if raw[-1].result.error is not None:
                break  # the SUT failed: no second run
        extras = _ptd_text(meter)
    except (PowerError, MeterUnavailable) as exc:
        error = str(exc)
    finally:
        closing = _close(meter)  # always, even after an error
    error = error or closing
    if info is None:  # identify() failed: nothing ran
        raise PowerError(error)
    if isinstance(meter, PtdMeter):
        extras = {**(extras or {}), "messages": meter.messages_json()}
    out = analyse(info, raw, _interval_s(meter, raw), error, _clock(meter, outdir), extras)
    write_power_files(outdir, out)
    return out


def _one_phase(
    meter: Meter,
    phase: str,
    mark: str,
    run: tuple[SUT, QSL, TestSettings, LogSettings],
    raw: list[PhaseResult],
    progress: Progress | None,
) -> None:
    """start -> the loadgen run -> stop; the run is kept in ``raw`` even if stop fails."""
    sut, qsl, settings, logs = run
    meter.start(mark, phase)
    result = start_test(sut, qsl, settings, logs, progress=progress)
    raw.append(PhaseResult(phase, mark, result))
    samples = tuple(meter.stop())
    raw[-1] = replace(raw[-1], samples=samples)


def _ptd_text(meter: Meter) -> dict[str, Any] | None:
    """``ptd_out.txt`` (Watts, Uncertainty) while the analyzer is still connected."""
    return {"ptd_out": meter.ptd_out_text()} if isinstance(meter, PtdMeter) else None


def _close(meter: Meter) -> str:
    try:
        meter.close()
    except (PowerError, MeterUnavailable) as exc:
        return f"closing the power meter failed: {exc}"
    return ""


def _interval_s(meter: Meter, raw: Sequence[PhaseResult]) -> float:
    """The meter's own ``interval`` (s) if it has one, else the median gap between samples
    (an analyzer's clock, a director's stream), else 1 s (PTDaemon's ``Go,1000``)."""
    declared = getattr(meter, "interval", None)
    if isinstance(declared, int | float) and declared > 0:
        return float(declared)
    gaps = [
        b.t_utc - a.t_utc
        for p in raw
        for a, b in zip(p.samples, p.samples[1:], strict=False)
        if b.t_utc > a.t_utc
    ]
    return statistics.median(gaps) if gaps else 1.0


def _clock(meter: Meter, outdir: Path) -> dict[str, Any] | None:
    """What the meter measured of the clock offset (it raised already above the limit)."""
    if isinstance(meter, PtdMeter) and meter.clock_offset is not None:
        o = meter.clock_offset
        return {
            "source": "ptd",
            "low_ms": o.low_s * 1e3,
            "high_ms": o.high_s * 1e3,
            "estimate_ms": o.estimate_s * 1e3,
            "limit_ms": meter.clock_limit_s * 1e3,
        }
    if isinstance(meter, DirectorMeter):
        try:
            checks = json.loads((outdir / "power/client.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return {"source": "director", "checks": checks.get("clock_checks", [])}
    return None


def analyse(
    info: MeterInfo,
    raw: Sequence[PhaseResult],
    interval_s: float,
    error: str = "",
    clock: dict[str, Any] | None = None,
    extras: dict[str, Any] | None = None,
) -> PowerRunResult:
    """Window stats per phase, the testing metric, ranging vs testing, every problem."""
    phases = tuple(_phase_stats(p, interval_s) for p in raw)
    problems = [f"{p.phase}: {text}" for p in phases for text in p.problems]
    testing = next((p for p in phases if p.phase == "testing"), None)
    ranging = next((p for p in phases if p.phase == "ranging"), None)
    scenario = (raw[0].result.effective.scenario.value) if raw else ""
    metric = _metric(testing) if testing is not None else None
    if ranging is not None and testing is not None:
        r, t = ranging.stats, testing.stats
        if r is not None and t is not None and r.avg_watts and t.avg_watts:
            problems += ranging_problems(r.avg_watts, t.avg_watts)
    return PowerRunResult(
        info, interval_s, scenario, phases, metric, tuple(problems), error, clock, extras
    )


def _phase_stats(p: PhaseResult, interval_s: float) -> PhaseResult:
    detail = p.result.outputs.detail
    if detail is None or not detail.is_file():
        return replace(p, problems=("the run wrote no detail log, so no power window",))
    try:
        window = window_from_detail(detail)
    except UserError as exc:
        return replace(p, problems=(str(exc),))
    stats = window_stats(p.samples, window, interval_s)
    return replace(p, stats=stats, problems=stats.problems)


def _metric(p: PhaseResult) -> InferencePower | None:
    r, s = p.result.result, p.stats
    if r is None or s is None or s.avg_watts is None or s.avg_watts <= 0:
        return None
    try:
        return inference_power(
            r.scenario,
            s.avg_watts,
            s.window.duration_s,
            samples_per_second=r.completed_samples_per_sec
            if r.scenario == "Server"
            else r.samples_per_second,
            query_count=r.query_count,
            samples_per_query=p.result.effective.samples_per_query,
        )
    except UsageError:
        return None
