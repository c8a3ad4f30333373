"""Read a training organisation folder: ``systems/*.json`` and
``results/<system>/<benchmark>/result_<i>.txt``, scored as the official result summarizer.

Training systems are keyed ``("training", org, system)`` in ``Tree.systems`` (a training
org folder has no division folder, and an org may describe a system of the same name for
inference); the division of a ``TrainingEntry`` is the system description's ``division``.

The score (``TrainingEntry.minutes``) is what ``mlperf_logging.result_summarizer``
publishes: the olympic mean of the logs present (the fastest and slowest dropped; four
each for unet3d), a failed run counting as the slowest, times the review's
``scaling.json`` factor when the benchmark folder has one. Whether the run count meets
the round's rules is for the checks, not the loader.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mlmeter.errors import UserError
from mlmeter.submission import _layout as L
from mlmeter.submission._findings import Severity
from mlmeter.submission._loadutil import load_systems, problem, read_json_object, subdirs
from mlmeter.submission._model import TrainingEntry, Tree
from mlmeter.training._results import read_logged_run, score_logs
from mlmeter.training._spec import BenchmarkSpec, Progress

TRAIN_MANIFEST = "mlmeter_train.json"  # what ``mlmeter train --output DIR`` writes
_RESULT = re.compile(r"result_(\d+)\.txt")
# Benchmarks whose convergence is counted in samples (training.md §1.1); others in epochs.
_SAMPLES = frozenset(
    {
        "bert",
        "gpt3",
        "stable_diffusion",
        "llama2_70b_lora",
        "llama31_8b",
        "llama31_405b",
        "flux1",
        "deepseekv3_671b",
        "gpt_oss_20b",
        "qwen35_397b_grpo",
    }
)


def load_training_org(tree: Tree, org: Path, org_name: str = "") -> None:
    """Read one training organisation folder into ``tree``."""
    name = org_name or org.name
    systems = load_systems(tree, org, L.TRAINING, name)
    ruleset = _ruleset(org)
    for system in subdirs(org / "results"):
        desc = tree.system(L.TRAINING, name, system.name)
        if system.name not in systems:
            msg = f"results for system {system.name!r} but no systems/{system.name}.json"
            problem(tree, system, "load.no_system", msg)
        division = str(desc.get("division", "")) if desc else ""
        for bench in subdirs(system):
            entry = _entry(tree, name, division, bench, ruleset)
            if entry is not None:
                tree.training.append(entry)


def org_submitter(org: Path) -> str:
    """The ``submitter`` of the first readable system description, or ``""``."""
    for path in sorted((org / "systems").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and isinstance(data.get("submitter"), str):
            return str(data["submitter"]).strip()
    return ""


def result_logs(bench: Path) -> list[Path]:
    """``result_<i>.txt`` files of a benchmark folder, sorted by ``i``."""
    found = [(_RESULT.fullmatch(p.name), p) for p in bench.iterdir() if p.is_file()]
    return [p for m, p in sorted((int(m.group(1)), p) for m, p in found if m)]


def _entry(tree: Tree, org: str, division: str, bench: Path, ruleset: str) -> TrainingEntry | None:
    logs = result_logs(bench)
    if not logs:
        msg = "a benchmark folder without result_<i>.txt logs; skipped"
        problem(tree, bench, "load.no_training_logs", msg, Severity.WARNING)
        return None
    try:
        minutes, runs = _score(bench.name, logs)
    except (OSError, UserError, ValueError) as exc:
        problem(tree, bench, "load.training_logs_unreadable", f"cannot score the logs: {exc}")
        minutes, runs = None, tuple(None for _ in logs)
    if minutes is not None:
        minutes *= _scaling(tree, bench)
    return TrainingEntry(
        division=division,
        org=org,
        system=bench.parent.name,
        benchmark=bench.name,
        path=bench,
        logs=tuple(logs),
        minutes=minutes,
        run_minutes=runs,
        ruleset=ruleset,
    )


def _score(benchmark: str, logs: list[Path]) -> tuple[float | None, tuple[float | None, ...]]:
    drop = 4 if benchmark == "unet3d" else 1
    progress: Progress = "samples" if benchmark in _SAMPLES else "epoch"
    if len(logs) <= 2 * drop:  # nothing left after dropping: the summarizer has no score
        return None, tuple(read_logged_run(p, progress).minutes for p in logs)
    spec = BenchmarkSpec(
        benchmark, "0.0.0", progress, 0.0, runs=len(logs), drop=drop, max_failed=drop
    )
    scored = score_logs(logs, spec, required_runs=len(logs))
    return scored.score.score, tuple(r.minutes for r in scored.runs)


def _scaling(tree: Tree, bench: Path) -> float:
    path = bench / "scaling.json"
    if not path.is_file():
        return 1.0
    data = read_json_object(tree, path)
    factor = data.get("scaling_factor") if data else None
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor > 0:
        problem(tree, path, "load.bad_scaling", "scaling_factor must be a positive number")
        return 1.0
    return float(factor)


def _ruleset(org: Path) -> str:
    path = org / TRAIN_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return ""
    value = data.get("ruleset") if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""
