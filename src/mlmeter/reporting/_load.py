"""A run folder -> ``RunData``: results.json, plus accuracy, system and timings if present."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeter.errors import UsageError, UserError
from mlmeter.logfmt import log_paths, read_detail, read_results_json
from mlmeter.reporting._accuracy import ACCURACY_FILE, AccuracyInfo, read_accuracy_txt
from mlmeter.reporting._power import PowerInfo, load_power
from mlmeter.reporting._timings import SampleTimings, read_timings

RESULTS_FILE = "results.json"
SYSTEM_FILE = "system.json"


@dataclass(frozen=True, eq=False)
class RunData:
    """Everything the report shows about one run, as read from its folder."""

    name: str  # the label in tables and legends
    path: Path
    results: dict[str, Any]  # results.json, migrated to the current version
    sut_name: str
    accuracy: AccuracyInfo | None
    system: dict[str, Any]
    timings: SampleTimings | None
    notes: tuple[str, ...] = ()  # what could not be read, and why
    power: PowerInfo | None = None  # ``mlmeter run --power``

    @property
    def result(self) -> dict[str, Any] | None:
        """The performance result (None in accuracy mode)."""
        r: dict[str, Any] | None = self.results.get("result")
        return r

    @property
    def scenario(self) -> str:
        """The official scenario name."""
        return str(self.results.get("effective", {}).get("scenario", "?"))

    @property
    def mode(self) -> str:
        """The official mode name."""
        return str(self.results.get("effective", {}).get("test_mode", "?"))


def load_runs(paths: Sequence[str | Path]) -> list[RunData]:
    """Load every run; names are folder names, or the paths as given when those clash."""
    dirs = [_run_dir(Path(p)) for p in paths]
    names = [d.name for d in dirs]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    return [load_run(d, name=n) for d, n in zip(dirs, names, strict=True)]


def load_run(path: str | Path, *, name: str | None = None) -> RunData:
    """Load one run folder (the ``--output`` of ``mlmeter run``)."""
    run_dir = _run_dir(Path(path))
    results = read_results_json(run_dir / RESULTS_FILE)
    notes: list[str] = []
    timings = _timings(run_dir, notes)
    acc_path = run_dir / ACCURACY_FILE
    power = load_power(run_dir, results, notes)
    return RunData(
        name=name or run_dir.name,
        path=run_dir,
        results=results,
        sut_name=_sut_name(run_dir, results),
        accuracy=read_accuracy_txt(acc_path) if acc_path.is_file() else None,
        system=_system(run_dir / SYSTEM_FILE, notes),
        timings=timings,
        notes=tuple(notes),
        power=power,
    )


def _run_dir(path: Path) -> Path:
    """The run folder for ``path``; one-line errors that name the fix."""
    if path.is_file() and path.name == RESULTS_FILE:
        return path.parent
    if not path.exists():
        raise UsageError(f"{path}: no such run folder: pass the --output folder of `mlmeter run`")
    if not path.is_dir():
        raise UsageError(f"{path} is not a folder: pass a run folder, the one holding results.json")
    if not (path / RESULTS_FILE).is_file():
        raise UsageError(
            f"{path} has no results.json: pass a folder written by `mlmeter run --output DIR`"
        )
    return path


def _timings(run_dir: Path, notes: list[str]) -> SampleTimings | None:
    try:
        timings = read_timings(run_dir)
    except (OSError, ValueError, UserError) as exc:
        notes.append(f"per-sample timings unreadable ({exc}): plots left out")
        return None
    if timings is None:
        notes.append(
            "no per-sample timings: run `mlmeter run ... --trace` to get the latency "
            "histogram and CDF, throughput and outstanding-query plots"
        )
    elif timings.query_seq.size == 0:
        notes.append(f"{Path(timings.source).name} holds no samples: plots left out")
        return None
    return timings


def _sut_name(run_dir: Path, results: dict[str, Any]) -> str:
    """From the result, the run header, else the detail log (accuracy runs)."""
    for block in ("result", "run"):
        name = (results.get(block) or {}).get("sut_name")
        if name:
            return str(name)
    detail = log_paths(run_dir).detail
    try:
        return str(read_detail(detail).get("sut_name", "?")) if detail.is_file() else "?"
    except (OSError, UserError):
        return "?"


def _system(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        notes.append(f"{path.name} unreadable ({exc})")
        return {}
    return doc if isinstance(doc, dict) else {}
