"""What ``mlmeter submission package`` reads: run folders of ``mlmeter run`` and
organisation folders of ``mlmeter train``. Reading never changes them.

A run folder holds ``results.json`` (``mlmeter.results``), the summary and detail logs,
``system.json`` and, in accuracy mode, ``mlperf_log_accuracy.json`` and ``accuracy.txt``.
A training folder holds ``mlmeter_train.json``, ``systems/<system>.json`` and
``results/<system>/<benchmark>/result_<i>.txt``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeter.errors import UsageError, UserError
from mlmeter.logfmt import read_results_json
from mlmeter.submission import _layout as L
from mlmeter.training import read_mllog
from mlmeter.workloads import get, names

RESULTS_JSON = "results.json"
SYSTEM_JSON = "system.json"
TRAIN_JSON = "mlmeter_train.json"
_MODES = {"PerformanceOnly": "performance", "AccuracyOnly": "accuracy"}


@dataclass(frozen=True)
class InferenceRun:
    """One ``mlmeter run`` folder."""

    path: Path
    doc: dict[str, Any]  # results.json
    system: dict[str, Any]  # system.json
    workload: str  # the mlmeter workload name, e.g. image-classification
    benchmark: str  # its MLPerf name (mlperf_model), e.g. resnet50
    model: str  # the workload's model, as ``mlmeter list`` shows it
    scenario: str
    mode: str  # "performance" or "accuracy"
    audit: str  # "" or the compliance test the run's settings are: TEST01, TEST04, TEST06

    @property
    def valid(self) -> bool | None:
        """The run's verdict (None in accuracy mode: no performance result)."""
        if self.mode == "accuracy":
            return None
        return bool((self.doc.get("validity") or {}).get("valid"))

    @property
    def sut_name(self) -> str:
        """The SUT's name as the detail log records it."""
        return str((self.doc.get("run") or {}).get("sut_name", ""))

    @property
    def slot(self) -> tuple[str, str, str, str]:
        """What two packaged runs may not share: benchmark, scenario, mode, audit test."""
        return (self.benchmark, self.scenario, self.mode, self.audit)


@dataclass(frozen=True)
class TrainingRun:
    """One ``mlmeter train`` organisation folder (one benchmark, one system)."""

    path: Path
    doc: dict[str, Any]  # mlmeter_train.json
    benchmark: str
    system: str  # the system folder name the run wrote
    system_json: Path
    logs: tuple[Path, ...]  # result_<i>.txt sorted by i
    declared: dict[str, str]  # submission_org, _division, _platform, _benchmark of the logs

    @property
    def ruleset(self) -> str:
        """The training round the logs were written for, e.g. 4.0.0."""
        return str(self.doc.get("ruleset", ""))


Source = InferenceRun | TrainingRun


def load_source(path: Path) -> Source:
    """Read a run or training folder; a one-line ``UsageError`` for anything else."""
    if (path / TRAIN_JSON).is_file():
        return _training(path)
    if (path / RESULTS_JSON).is_file():
        return _inference(path)
    raise UsageError(
        f"{path}: not an mlmeter run or train folder (no {RESULTS_JSON} or {TRAIN_JSON}); "
        "pass folders written by `mlmeter run --output` or `mlmeter train --output`"
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc}); re-run to write it again") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a JSON object; re-run to write it again")
    return data


def _inference(path: Path) -> InferenceRun:
    try:
        doc = read_results_json(path / RESULTS_JSON)
    except (UserError, ValueError, KeyError) as exc:
        raise UsageError(f"{path / RESULTS_JSON}: {exc}") from exc
    requested = doc.get("requested") or {}
    mode = _MODES.get(str(requested.get("mode")))
    if mode is None:
        raise UsageError(
            f"{path}: a {requested.get('mode')} run cannot be packaged; "
            "run `mlmeter run --mode performance` and `--mode accuracy` separately"
        )
    for name in (L.SUMMARY, L.DETAIL) + (
        (L.ACCURACY_LOG, L.ACCURACY_TXT) if mode == "accuracy" else ()
    ):
        if not (path / name).is_file():
            raise UsageError(f"{path}: {name} is missing; re-run `mlmeter run` into a new folder")
    system = _read_json(path / SYSTEM_JSON) if (path / SYSTEM_JSON).is_file() else {}
    system.update(doc.get("system") or {})
    workload = _workload_name(doc, system, path)
    bench = get(workload)
    return InferenceRun(
        path=path,
        doc=doc,
        system=system,
        workload=workload,
        benchmark=bench.benchmark(),
        model=bench.model,
        scenario=str(requested.get("scenario")),
        mode=mode,
        audit=audit_test(requested),
    )


def _workload_name(doc: dict[str, Any], system: dict[str, Any], path: Path) -> str:
    """The workload a run used: the network server's, else the prefix of the SUT name
    (a local workload's SUT is called ``<workload>-<backend>``)."""
    recorded = str((doc.get("workload") or {}).get("name") or "")
    if recorded in names():
        return recorded
    servers = system.get("network_sut") or []
    if servers and isinstance(servers[0], dict) and servers[0].get("workload"):
        return str(servers[0]["workload"])
    sut = str((doc.get("run") or {}).get("sut_name", ""))
    for name in sorted(names(), key=len, reverse=True):
        if sut == name or sut.startswith(f"{name}-"):
            return name
    raise UsageError(
        f"{path}: SUT {sut!r} is not a registered workload (null and fixed runs have no "
        "MLPerf benchmark); package runs of a real workload (see `mlmeter list`)"
    )


def audit_test(requested: dict[str, Any]) -> str:
    """The compliance test whose ``audit.config`` a run's settings carry, or ``""``.

    TEST04 issues one sample over and over; TEST01 and TEST06 log sampled responses in
    performance mode (TEST06 for LLMs, which run with token latencies)."""
    if requested.get("performance_issue_same"):
        return "TEST04"
    if requested.get("mode") != "PerformanceOnly":
        return ""
    sampled = (requested.get("accuracy_log_sampling_target") or 0) > 0
    if sampled or (requested.get("accuracy_log_probability") or 0) > 0:
        return "TEST06" if requested.get("use_token_latencies") else "TEST01"
    return ""


def _training(path: Path) -> TrainingRun:
    doc = _read_json(path / TRAIN_JSON)
    benchmark = str(doc.get("benchmark", ""))
    folders = sorted(p for p in (path / "results").glob(f"*/{benchmark}") if p.is_dir())
    if not benchmark or len(folders) != 1:
        raise UsageError(
            f"{path}: expected one results/<system>/{benchmark or '<benchmark>'} folder; "
            "pass the folder `mlmeter train --output` wrote"
        )
    system = folders[0].parent.name
    logs = sorted(folders[0].glob("result_*.txt"), key=_log_index)
    system_json = path / "systems" / f"{system}.json"
    if not logs or not system_json.is_file():
        raise UsageError(f"{path}: no result_*.txt or systems/{system}.json; re-run mlmeter train")
    return TrainingRun(path, doc, benchmark, system, system_json, tuple(logs), _declared(logs[0]))


def _log_index(path: Path) -> int:
    tail = path.stem.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _declared(log: Path) -> dict[str, str]:
    """The ``submission_*`` values a training log declares."""
    wanted = {
        "submission_org",
        "submission_division",
        "submission_platform",
        "submission_benchmark",
    }
    return {e.key: str(e.value) for e in read_mllog(log, strict=False) if e.key in wanted}
