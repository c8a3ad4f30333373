"""``mlmeter run ... --power SPEC``: build and probe the meter, run under it, say the verdict.

The library does the work (``mlmeter.power._run.run_with_power``: ranging + testing where
the meter needs it, the window join, the metrics, the files); this module is the glue
``cli/run.py`` calls.
"""

from __future__ import annotations

import argparse
import sys

from mlmeter.cli import _workloads
from mlmeter.cli._progress import ProgressBar
from mlmeter.loadgen import LogSettings, Progress, TestResult
from mlmeter.power import MeterUnavailable, PowerError, get_meter
from mlmeter.power._model import Meter
from mlmeter.power._run import PowerRunResult, check_mode, run_with_power
from mlmeter.power._run_files import verdict_text
from mlmeter.settings import TestSettings


def add_option(p: argparse.ArgumentParser) -> None:
    """``--power SPEC``."""
    p.add_argument(
        "--power",
        default=None,
        metavar="SPEC",
        help="measure power over the run: sim[:profile=...,interval=S] | rapl | nvml | "
        "ptd://HOST:PORT | director://HOST:PORT (or an installed meter plugin); "
        "an analyzer gets a ranging run first",
    )


def open_meter(spec: str) -> Meter:
    """The meter for ``--power SPEC``, probed: a one-line error naming the fix if it
    cannot run here."""
    meter = get_meter(spec)
    availability = meter.probe()
    if not availability.ok:
        meter.close()
        raise MeterUnavailable(f"--power {spec}: {availability.reason}")
    return meter


def run(
    spec: str,
    workload: _workloads.Workload,
    settings: TestSettings,
    logs: LogSettings,
    *,
    quiet: bool,
) -> PowerRunResult:
    """Run the workload under the meter, with the progress bar of a plain run."""
    check_mode(settings)
    meter = open_meter(spec)
    progress = Progress()
    bar = None if quiet or not sys.stderr.isatty() else ProgressBar(progress, settings)
    if bar is not None:
        bar.start()
    try:
        return run_with_power(workload.sut, workload.qsl, settings, logs, meter, progress=progress)
    finally:
        if bar is not None:
            bar.stop()


def performance_result(power: PowerRunResult) -> TestResult:
    """The testing run's result; when the meter failed before it ran, its error."""
    if power.result is None:
        raise PowerError(power.error or "the power run ended before the testing run")
    return power.result


def report_line(power: PowerRunResult) -> str:
    """One line for the final report: the metric and the power verdict."""
    m = power.metric
    if m is None:
        head = "no metric"
    elif m.metric_unit == "millijoules":
        head = f"{m.avg_watts:,.2f} W avg, {m.metric:,.3f} mJ/query"
    else:
        head = f"{m.avg_watts:,.2f} W avg"
    spj = "" if m is None else f", {m.samples_per_joule:,.4g} samples/J"
    label = f"power ({power.meter.kind})"
    return f"  {label:<21}: {head}{spj}, {verdict_text(power)}"


def finish(power: PowerRunResult | None) -> None:
    """After the report: a meter error ends the command with its one-line reason."""
    if power is not None and power.error:
        raise PowerError(power.error)
