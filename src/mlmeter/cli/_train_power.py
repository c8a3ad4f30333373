"""``mlmeter train --power SPEC``: the energy of each run, and the olympic energy score.

The meter starts before each run and stops after it; the run's ``run_start``/``run_stop`` are
read back from its ``result_<i>.txt`` and its energy is ``sum(reading x interval)`` over that
region (``power.training_energy``), with the training power rules' ">= 1 reading per second"
and ">= 60 samples" checked. The rules extend a run that is too short; we do not: a run with
fewer than 60 samples (or sampled below 1 Hz) is measured anyway and reported as a power
problem, with its numbers, so the user reruns with a longer run or a faster meter.

Each node writes ``results/<system>/<benchmark>/power/result_<i>/node_<rank>.txt``
(``power._training_log``), the layout ``package_checker`` checks and ``result_summarizer``
reads for its Energy column. The energy score is the mean over the runs the time score kept.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mlmeter.logfmt import atomic_write_text
from mlmeter.power._metrics import TrainingEnergy, training_energy
from mlmeter.power._model import Meter, MeterInfo, MeterUnavailable, PowerSample
from mlmeter.power._registry import get_meter
from mlmeter.power._training_log import run_window_ms, write_node_log
from mlmeter.training._results import TrainingScore

T = TypeVar("T")


def add_option(p: argparse.ArgumentParser) -> None:
    """``--power SPEC`` on ``mlmeter train``."""
    p.add_argument(
        "--power",
        default=None,
        metavar="SPEC",
        help="measure each run's energy: sim[:...], rapl[:root=PATH], nvml, ptd://HOST:PORT",
    )


@dataclass(frozen=True)
class RunEnergy:
    """One run's energy (``None`` when its log has no run_start/run_stop)."""

    index: int
    log: Path
    node_log: Path | None
    energy: TrainingEnergy | None
    problems: tuple[str, ...]


class TrainPower:
    """Measures the runs of one ``mlmeter train`` with one meter."""

    def __init__(self, meter: Meter, node: int = 0) -> None:
        self.meter, self.node = meter, node
        self.info: MeterInfo = meter.identify()
        self.runs: dict[int, RunEnergy] = {}
        self.olympic_j: float | None = None
        self.olympic_note = ""
        self.kept: tuple[int, ...] = ()

    def measure(self, i: int, log: Path, run: Callable[[], T]) -> T:
        """Run ``run()`` between the meter's start and stop, then log and compute."""
        # Training has no ranging run: an analyzer that needs one measures with auto ranges.
        phase = "ranging" if self.info.needs_ranging else "testing"
        self.meter.start(f"result_{i}", phase)
        try:
            return run()
        finally:
            self.runs[i] = self._account(i, log, self.meter.stop())

    def _account(self, i: int, log: Path, samples: Sequence[PowerSample]) -> RunEnergy:
        window = run_window_ms(log) if log.exists() else None
        if window is None:
            why = f"{log.name} has no run_start/run_stop: no energy for this run"
            return RunEnergy(i, log, None, None, (why,))
        node_log = log.parent / "power" / log.stem / f"node_{self.node}.txt"
        write_node_log(node_log, samples, *window, node=self.node, measurement_type=self._type())
        energy = training_energy(samples, window[0] / 1000, window[1] / 1000)
        return RunEnergy(i, log, node_log, energy, energy.problems)

    def _type(self) -> str:
        return "AC" if "wall" in self.info.scope.lower() else self.info.scope

    def print_run(self, i: int) -> None:
        """The energy line of run ``i`` (and its problems)."""
        r = self.runs.get(i)
        if r is None:
            return
        if r.energy is not None:
            e = r.energy
            print(
                f"  energy {e.energy_j:.6g} J ({e.samples} samples at {e.rate_hz:.3g} Hz"
                f" over {e.duration_s:.3f} s, {self.info.model})"
            )
        for problem in r.problems:
            print(f"  power problem: {problem}")

    def score(self, result: TrainingScore) -> None:
        """The olympic energy score over the runs the time score kept; printed."""
        by_log = {r.log.name: r for r in self.runs.values()}
        kept = kept_runs(result)
        self.kept = tuple(by_log[result.runs[k].path.name].index for k in kept)
        energies = [by_log[result.runs[k].path.name].energy for k in kept]
        if not kept:
            self.olympic_note = f"no olympic energy: {result.score.message or 'no runs kept'}"
        elif any(e is None for e in energies):
            self.olympic_note = "no olympic energy: a kept run has no energy"
        else:
            self.olympic_j = sum(e.energy_j for e in energies if e is not None) / len(energies)
        self._print_score(energies)

    def _print_score(self, energies: Sequence[TrainingEnergy | None]) -> None:
        if self.olympic_j is None:
            print(f"energy score: {self.olympic_note}")
            return
        runs = ", ".join(str(i + 1) for i in sorted(self.kept))
        print(f"energy score: {self.olympic_j:.6g} J (mean of runs {runs}, as the time score)")
        if any(e is not None and e.problems for e in energies):
            print("energy score: note: a kept run breaks the training power rules (see above)")

    def record(self, summary: Path) -> None:
        """Add ``power`` to ``mlmeter_train.json``."""
        data: dict[str, Any] = json.loads(summary.read_text(encoding="utf-8"))
        data["power"] = self.to_json()
        atomic_write_text(summary, json.dumps(data, indent=2, default=str) + "\n")

    def to_json(self) -> dict[str, Any]:
        """The meter, each run's energy and the olympic energy score."""
        i = self.info
        return {
            "meter": {"kind": i.kind, "model": i.model, "scope": i.scope},
            "valid_for_closed": i.valid_for_closed,
            "runs": [_run_json(r) for _, r in sorted(self.runs.items())],
            "olympic_energy_j": self.olympic_j,
            "kept_runs": sorted(self.kept),
            "note": self.olympic_note,
        }


def _run_json(r: RunEnergy) -> dict[str, Any]:
    e = r.energy
    return {
        "log": str(r.log),
        "node_log": None if r.node_log is None else str(r.node_log),
        "energy_j": None if e is None else e.energy_j,
        "samples": None if e is None else e.samples,
        "rate_hz": None if e is None else e.rate_hz,
        "duration_s": None if e is None else e.duration_s,
        "problems": list(r.problems),
    }


def kept_runs(result: TrainingScore) -> list[int]:
    """Indices into ``result.runs`` of the runs the olympic time score averaged: converged runs
    by time, ``drop`` fastest dropped and ``drop`` slowest, failed runs counting as slowest
    (``result_summarizer._index_olympic_average``)."""
    if not result.score.valid:
        return []
    done = sorted((r.minutes, k) for k, r in enumerate(result.runs) if r.minutes is not None)
    failed = len(result.runs) - len(done)
    drop = result.spec.drop
    return [k for _, k in done[drop : len(done) + failed - drop]]


@contextmanager
def open_power(spec: str | None, node: int = 0) -> Iterator[TrainPower | None]:
    """The meter for ``--power SPEC`` (None without it), closed at the end."""
    if spec is None:
        yield None
        return
    meter = get_meter(spec)
    available = meter.probe()
    if not available.ok:
        raise MeterUnavailable(f"--power {spec}: {available.reason}")
    try:
        yield TrainPower(meter, node)
    finally:
        meter.close()
