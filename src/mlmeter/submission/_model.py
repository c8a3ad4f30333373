"""What a submission tree holds, as the loader reads it: systems, inference results and
training results. Checks, tables, the results store and the dashboard all read these.

Paths are absolute; ``rel`` gives the ``/``-separated path from the tree's root that
findings and tables show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeter.submission._findings import Finding

DIVISIONS = ("closed", "open", "network")
SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")


@dataclass(frozen=True)
class SystemDesc:
    """``systems/<system>.json`` of one organisation and division."""

    division: str
    org: str
    name: str  # the file's stem: the system id used in results/<system>/
    path: Path
    fields: dict[str, Any]  # the JSON object as read

    def get(self, key: str, default: Any = "") -> Any:
        """A field of the description."""
        return self.fields.get(key, default)


@dataclass(frozen=True)
class InferenceEntry:
    """``results/<system>/<benchmark>/<scenario>/`` of one organisation and division."""

    division: str
    org: str
    system: str
    benchmark: str  # as in the tree: resnet50, retinanet, bert-99, llama2-70b-99, ...
    scenario: str  # SingleStream, MultiStream, Server or Offline
    path: Path  # the <scenario> folder
    detail: dict[str, Any]  # performance/run_1 detail log: key -> first value (as the checker)
    summary: dict[str, str]  # performance/run_1/mlperf_log_summary.txt: "key : value" lines
    accuracy: dict[str, Any] | None  # accuracy/accuracy.txt parsed; None when absent
    metric: str  # the detail key of the submission metric (loadgen.md §1 table, §7 LLMs)
    value: float | None  # that metric, SS/MS converted ns -> ms; None when missing
    unit: str  # "samples/s", "tokens/s", "ms", ...
    valid: bool  # result_validity == "VALID" in the detail log


@dataclass(frozen=True)
class TrainingEntry:
    """``results/<system>/<benchmark>/result_*.txt`` of one organisation."""

    division: str  # from the system description (training trees have no division folder)
    org: str
    system: str
    benchmark: str  # resnet, bert, dlrm_dcnv2, llama2_70b_lora, ...
    path: Path  # the <benchmark> folder
    logs: tuple[Path, ...]  # result_<i>.txt, sorted by i
    minutes: float | None  # olympic score in minutes, None when it cannot be scored
    run_minutes: tuple[float | None, ...]  # each run's time to train (None: did not converge)
    ruleset: str  # the round the logs declare (submission_benchmark / ruleset), "" if none


@dataclass
class Tree:
    """A loaded tree: a submission (``{closed,open,network}/<org>/...``), a published
    results repository in that layout, or a training organisation folder."""

    root: Path
    systems: dict[tuple[str, str, str], SystemDesc] = field(default_factory=dict)
    inference: list[InferenceEntry] = field(default_factory=list)
    training: list[TrainingEntry] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)  # what could not be read

    def rel(self, path: Path) -> str:
        """``path`` relative to the root, ``/``-separated."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def system(self, division: str, org: str, name: str) -> SystemDesc | None:
        """The description of a system, if the tree has it."""
        return self.systems.get((division, org, name))
