"""Rows from a loaded tree (a submission, or a published MLCommons results repository):
one per inference system x benchmark x scenario and one per training benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlmeter.results._model import RunRow
from mlmeter.results._sql import utc_now
from mlmeter.results._system import accelerator_count, system_name
from mlmeter.submission._model import InferenceEntry, TrainingEntry, Tree

LOWER_IS_BETTER_UNITS = ("ms", "s", "ns", "us", "minutes")


def rows_from_tree(tree: Tree) -> list[RunRow]:
    """Rows for every inference and training result of ``tree`` (``source="import"``)."""
    now = utc_now()
    rows = [_inference(tree, e, now) for e in tree.inference]
    rows += [_training(tree, e, now) for e in tree.training]
    return rows


def _system(tree: Tree, division: str, org: str, name: str) -> dict[str, Any]:
    desc = tree.system(division, org, name)
    return dict(desc.fields) if desc is not None else {}


def _inference(tree: Tree, entry: InferenceEntry, now: str) -> RunRow:
    system = _system(tree, entry.division, entry.org, entry.system)
    extra: dict[str, Any] = {"system_id": entry.system, "tree": str(tree.root)}
    if entry.accuracy is not None:
        extra["accuracy"] = entry.accuracy
    return RunRow(
        id=0, recorded_at=now, source="import", kind="inference", division=entry.division,
        org=entry.org, system=system_name(system, entry.system), benchmark=entry.benchmark,
        scenario=entry.scenario, metric=entry.metric, value=entry.value, unit=entry.unit,
        valid=entry.valid, higher_is_better=entry.unit not in LOWER_IS_BETTER_UNITS,
        accelerator=str(system.get("accelerator_model_name", "")),
        accelerators=accelerator_count(system),
        run_at=str(entry.detail.get("test_datetime", "") or ""), path=_abs(entry.path),
        tool_version=str(entry.detail.get("loadgen_version", "") or ""), extra=extra,
    )  # fmt: skip


def _training(tree: Tree, entry: TrainingEntry, now: str) -> RunRow:
    system = _system(tree, entry.division, entry.org, entry.system)
    extra: dict[str, Any] = {
        "system_id": entry.system,
        "tree": str(tree.root),
        "run_minutes": list(entry.run_minutes),
        "ruleset": entry.ruleset,
        "logs": [p.name for p in entry.logs],
    }
    return RunRow(
        id=0, recorded_at=now, source="import", kind="training", division=entry.division,
        org=entry.org, system=system_name(system, entry.system), benchmark=entry.benchmark,
        scenario="", metric="time_to_train_minutes", value=entry.minutes, unit="minutes",
        valid=entry.minutes is not None, higher_is_better=False,
        accelerator=str(system.get("accelerator_model_name", "")),
        accelerators=accelerator_count(system), run_at="", path=_abs(entry.path),
        tool_version="", extra=extra,
    )  # fmt: skip


def _abs(path: Path) -> str:
    return str(Path(path).resolve())
