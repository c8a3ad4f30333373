"""The results table of submission trees, in the shape of MLPerf's published tables.

One row per system x benchmark x scenario (inference) and per system x benchmark
(training), with the published columns: organisation, availability, system, nodes,
processors, accelerators, framework, benchmark, scenario, result and units, division,
category and validity. A training row's result is the olympic score in minutes exactly as
``mlperf_logging.result_summarizer`` computes it (``TrainingEntry.minutes``, scored by the
loader with ``training.score_logs``): each run's ``run_stop - run_start`` in logged
milliseconds / 60,000, the fastest and slowest dropped (4 and 4 for ``unet3d``), a
non-converged run dropped as the slowest (at most 1, 4 for ``unet3d``), the mean of the
rest, times the ``scaling_factor`` of the benchmark folder's ``scaling.json`` when the
RCP check wrote one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlmeter._version import __version__
from mlmeter.submission._model import InferenceEntry, SystemDesc, TrainingEntry, Tree

TABLE_FORMAT = "mlmeter.submission_table"
TABLE_VERSION = 1
SCALING_FILE = "scaling.json"
TRAINING_UNITS = "minutes"
_AVAILABILITY = {"available": "Available", "preview": "Preview", "rdi": "RDI"}

# (key, header) of every column, in the published tables' order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "ID"),
    ("organization", "Organization"),
    ("availability", "Availability"),
    ("system", "System Name"),
    ("nodes", "# of Nodes"),
    ("host_processor", "Host Processor"),
    ("processors", "# of Processors"),
    ("accelerator", "Accelerator"),
    ("accelerators", "# of Accelerators"),
    ("framework", "Framework / Software"),
    ("benchmark", "Benchmark"),
    ("scenario", "Scenario"),
    ("result", "Result"),
    ("units", "Units"),
    ("division", "Division"),
    ("category", "Category"),
    ("valid", "Valid"),
    ("run_minutes", "Run Times (min)"),
    ("scaling_factor", "RCP Scaling"),
    ("notes", "Notes"),
)


@dataclass(frozen=True)
class TableRow:
    """One row of the results table (``scenario`` is empty for training)."""

    id: str  # division/org/system/benchmark[/scenario]: unique and stable
    kind: str  # "inference" or "training"
    organization: str
    availability: str
    system: str  # the description's system_name (else the system id)
    system_id: str  # the folder / file name in the tree
    nodes: int | None
    host_processor: str
    processors: int | None
    accelerator: str
    accelerators: int | None
    framework: str
    benchmark: str
    scenario: str
    result: float | None  # the metric value; training: the olympic score in minutes
    units: str
    division: str
    category: str  # datacenter, edge, "datacenter, edge"; training rows: "training"
    valid: bool
    path: str  # the row's folder, relative to its tree's root
    run_minutes: tuple[float | None, ...] = ()  # training: each run (None: not converged)
    scaling_factor: float | None = None  # training: from scaling.json (1.0 without one)
    notes: str = ""

    def sort_key(self) -> tuple[str, ...]:
        """Division, organisation, system, benchmark, scenario (case-insensitive first)."""
        keys = (self.division, self.organization, self.system, self.benchmark, self.scenario)
        return (*(k.casefold() for k in keys), *keys)

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data."""
        d = asdict(self)
        d["run_minutes"] = list(self.run_minutes)
        return d


@dataclass(frozen=True)
class SubmissionTable:
    """The rows of one or more trees, sorted, with where they came from."""

    rows: tuple[TableRow, ...]
    sources: tuple[str, ...]  # each tree's root as given
    generated_utc: str = field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    tool_version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        """The versioned table document the JSON exporter writes."""
        return {
            "format": TABLE_FORMAT,
            "version": TABLE_VERSION,
            "tool": {"name": "mlmeter", "version": self.tool_version},
            "generated_utc": self.generated_utc,
            "sources": list(self.sources),
            "columns": [{"key": k, "header": h} for k, h in COLUMNS],
            "rows": [r.to_dict() for r in self.rows],
        }


def build_table(
    trees: Sequence[Tree],
    *,
    sources: Sequence[str] | None = None,
    generated_utc: str | None = None,
) -> SubmissionTable:
    """The table of every inference and training result of ``trees``, sorted stably;
    ``sources`` names the trees as given (default: their roots)."""
    rows = [row for tree in trees for row in tree_rows(tree)]
    rows.sort(key=TableRow.sort_key)
    sources = tuple(sources) if sources is not None else tuple(str(t.root) for t in trees)
    if generated_utc is None:
        return SubmissionTable(tuple(rows), sources)
    return SubmissionTable(tuple(rows), sources, generated_utc)


def tree_rows(tree: Tree) -> Iterable[TableRow]:
    """The rows of one tree: its inference entries, then its training entries."""
    for e in tree.inference:
        yield inference_row(tree, e)
    for t in tree.training:
        yield training_row(tree, t)


def inference_row(tree: Tree, e: InferenceEntry) -> TableRow:
    """One system x benchmark x scenario."""
    desc = tree.system(e.division, e.org, e.system)
    notes = "" if desc is not None else f"no systems/{e.system}.json"
    if e.value is None:
        notes = "; ".join(n for n in (notes, f"no {e.metric} in the detail log") if n)
    return TableRow(
        id=f"{e.division}/{e.org}/{e.system}/{e.benchmark}/{e.scenario}",
        kind="inference",
        **_system_cells(desc, e.org, e.system),
        benchmark=e.benchmark,
        scenario=e.scenario,
        result=e.value,
        units=e.unit,
        division=e.division,
        category=_category(desc, "datacenter"),
        valid=e.valid and e.value is not None,
        path=tree.rel(e.path),
        notes=notes,
    )


def training_row(tree: Tree, t: TrainingEntry) -> TableRow:
    """One system x benchmark: the loader's olympic score, as the result summarizer's."""
    desc = _training_desc(tree, t)
    return TableRow(
        id=f"{t.division}/{t.org}/{t.system}/{t.benchmark}",
        kind="training",
        **_system_cells(desc, t.org, t.system),
        benchmark=t.benchmark,
        scenario="",
        result=t.minutes,
        units=TRAINING_UNITS,
        division=t.division,
        category=_category(desc, "training"),
        valid=t.minutes is not None,
        path=tree.rel(t.path),
        run_minutes=t.run_minutes,
        scaling_factor=read_scaling_factor(t.path),
        notes=training_notes(t),
    )


def _training_desc(tree: Tree, t: TrainingEntry) -> SystemDesc | None:
    found = tree.system(t.division, t.org, t.system)
    if found is not None:
        return found
    return next(
        (d for (_, org, name), d in tree.systems.items() if (org, name) == (t.org, t.system)),
        None,
    )


def _system_cells(desc: SystemDesc | None, org: str, system: str) -> dict[str, Any]:
    get = desc.get if desc is not None else (lambda key, default="": default)
    nodes = _int(get("number_of_nodes", None))
    status = str(get("status", ""))
    return {
        "organization": str(get("submitter", "") or org),
        "availability": _AVAILABILITY.get(status.strip().lower(), status),
        "system": str(get("system_name", "") or system),
        "system_id": system,
        "nodes": nodes,
        "host_processor": str(get("host_processor_model_name", "")),
        "processors": _times(_int(get("host_processors_per_node", None)), nodes),
        "accelerator": str(get("accelerator_model_name", "")),
        "accelerators": _times(_int(get("accelerators_per_node", None)), nodes),
        "framework": str(get("framework", "")),
    }


def _category(desc: SystemDesc | None, default: str) -> str:
    raw = str(desc.get("system_type", "")) if desc is not None else ""
    parts = [p.strip().lower() for p in raw.split(",") if p.strip()]
    return ", ".join(parts) if parts else default


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _times(per_node: int | None, nodes: int | None) -> int | None:
    return None if per_node is None or nodes is None else per_node * nodes


# --------------------------------------------------------------------------- training


def olympic_drop(benchmark: str) -> int:
    """How many fastest and slowest runs are dropped (and failures tolerated): 4 for unet3d."""
    return 4 if benchmark == "unet3d" else 1


def training_notes(t: TrainingEntry) -> str:
    """Why a training result has no score, or which runs it dropped for failing."""
    drop, runs = olympic_drop(t.benchmark), len(t.run_minutes)
    failed = sum(m is None for m in t.run_minutes)
    if t.minutes is not None:
        return f"{failed} run(s) did not converge: dropped as the slowest" if failed else ""
    if runs <= 2 * drop:
        return f"{runs} run(s): olympic scoring needs more than {2 * drop}"
    if failed > drop:
        return f"{failed} of {runs} runs did not converge: at most {drop} tolerated"
    return "the logs cannot be scored: run `mlmeter submission check` for the details"


def read_scaling_factor(folder: Path) -> float:
    """``scaling.json``'s ``scaling_factor``, as the loader applied it (1.0 without one)."""
    path = folder / SCALING_FILE
    try:
        factor = json.loads(path.read_text(encoding="utf-8"))["scaling_factor"]
    except (OSError, ValueError, KeyError, TypeError):
        return 1.0
    ok = isinstance(factor, int | float) and not isinstance(factor, bool) and factor > 0
    return float(factor) if ok else 1.0
