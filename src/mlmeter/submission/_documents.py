"""The small documents a packaged tree holds besides the logs: system descriptions,
``measurements.json``, ``user.conf``, the READMEs and ``mlmeter_submission.json``."""

from __future__ import annotations

import json
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.submission import _layout as L
from mlmeter.submission._sources import InferenceRun, Source, TrainingRun

# SYSTEM_DESC_REQUIRED_FIELDS of the official inference submission checker (v6.0)
INFERENCE_SYSTEM_FIELDS = (
    "division", "submitter", "status", "system_name", "number_of_nodes",
    "host_processor_model_name", "host_processors_per_node", "host_processor_core_count",
    "host_memory_capacity", "host_storage_capacity", "host_storage_type",
    "accelerators_per_node", "accelerator_model_name", "accelerator_memory_capacity",
    "framework", "operating_system", "system_type", "other_software_stack",
    "host_processor_frequency", "host_processor_caches", "host_memory_configuration",
    "host_processor_interconnect", "host_networking", "host_networking_topology",
    "accelerator_frequency", "accelerator_host_interconnect", "accelerator_interconnect",
    "accelerator_interconnect_topology", "accelerator_memory_configuration",
    "accelerator_on-chip_memories", "cooling", "hw_notes", "sw_notes",
    "host_network_card_count", "system_type_detail",
)  # fmt: skip
# the official measurements.json keys (SYSTEM_IMP_REQUIRED_FILES)
MEASUREMENT_KEYS = (
    "input_data_types",
    "retraining",
    "starting_weights_filename",
    "weight_data_types",
    "weight_transformations",
)
_INPUT_TYPES = {"language": "int64 (token ids)", "llm": "text (token ids at the server)"}
# user.conf keys: (key, TestSettings field per scenario or for all, ns per conf unit)
_CONF_KEYS: tuple[tuple[str, dict[str, str] | str, int], ...] = (
    ("target_qps", {"Offline": "offline_expected_qps", "Server": "server_target_qps"}, 1),
    (
        "target_latency",
        {
            "SingleStream": "single_stream_expected_latency_ns",
            "MultiStream": "multi_stream_expected_latency_ns",
            "Server": "server_target_latency_ns",
        },
        1_000_000,
    ),
    ("samples_per_query", {"MultiStream": "multi_stream_samples_per_query"}, 1),
    ("min_duration", "min_duration_ms", 1),
    ("max_duration", "max_duration_ms", 1),
    ("min_query_count", "min_query_count", 1),
    ("max_query_count", "max_query_count", 1),
    ("performance_sample_count_override", "performance_sample_count_override", 1),
)


def dumps(doc: dict[str, Any]) -> str:
    """JSON as the tree stores it: indented, keys in insertion order, a final newline."""
    return json.dumps(doc, indent=2) + "\n"


def inference_system(
    runs: list[InferenceRun], org: str, division: str, system: str
) -> dict[str, Any]:
    """``systems/<system>.json``: every required field, from the first run's system.json."""
    if division == "network":
        for run in runs:
            if not run.system.get("is_network") or "Network SUT" not in run.sut_name:
                raise UsageError(
                    f"{run.path}: not a network run; the network division takes runs made "
                    "with `mlmeter run --sut URL` against `mlmeter serve`"
                )
    base = dict(runs[0].system)
    software = base.get("other_software_stack")
    if isinstance(software, dict):
        base["other_software_stack"] = ", ".join(f"{k} {v}" for k, v in software.items())
    doc: dict[str, Any] = {k: base.get(k, "") for k in INFERENCE_SYSTEM_FIELDS}
    doc.update({k: v for k, v in base.items() if k not in doc})
    doc.update(division=division, submitter=org, system_name=system)
    doc["is_network"] = bool(base.get("is_network", False))
    return doc


def measurements(run: InferenceRun) -> dict[str, str]:
    """``measurements.json``: what the model took as input and how its weights were made."""
    servers = run.system.get("network_sut") or [{}]
    weights = str(servers[0].get("model") or run.model)
    return {
        "input_data_types": _INPUT_TYPES.get(run.workload, "fp32"),
        "retraining": "no",
        "starting_weights_filename": weights,
        "weight_data_types": "fp32",
        "weight_transformations": "none",
    }


def user_conf(run: InferenceRun) -> str:
    """The settings the run used, as ``user.conf`` lines (``*`` model: they apply to the
    workload name ``mlmeter run`` looks up and to the MLPerf name alike)."""
    requested = run.doc.get("requested") or {}
    lines = [f"# {run.benchmark} {run.scenario}: the settings of {run.path.name}"]
    for key, fields, scale in _CONF_KEYS:
        field = fields if isinstance(fields, str) else fields.get(run.scenario)
        value = requested.get(field) if field else None
        if value is None or (key.startswith(("max_", "performance_")) and not value):
            continue
        lines.append(f"*.{run.scenario}.{key} = {_number(value / scale if scale > 1 else value)}")
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    """A conf number: whole numbers without a decimal point, others as Python writes them."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def run_command(run: InferenceRun, outdir: str) -> str:
    """The ``mlmeter run`` command that reproduces ``run`` with the packaged user.conf."""
    parts = ["mlmeter run", run.workload, f"--scenario {run.scenario}", f"--mode {run.mode}"]
    framework = str(run.system.get("framework", ""))
    if framework and " " not in framework:
        parts.append(f"--backend {framework}")
    endpoints = run.system.get("network_endpoints") or []
    if endpoints:
        parts.append(f"--sut {','.join(str(u) for u in endpoints)}")
    return " ".join([*parts, "--conf user.conf", f"--output {outdir}"])


def scenario_readme(runs: list[InferenceRun]) -> str:
    """``README.md`` of a benchmark and scenario: the commands that reproduce its runs."""
    first = runs[0]
    lines = [
        f"# {first.benchmark} {first.scenario}",
        "",
        f"Measured with mlmeter, workload `{first.workload}` ({first.model}).",
        "From this folder, with `user.conf` beside you:",
        "",
        "```",
    ]
    lines += [
        run_command(r, f"{r.mode}-run") for r in sorted(runs, key=lambda r: r.mode, reverse=True)
    ]
    return "\n".join([*lines, "```", ""])


def code_readme() -> str:
    """``code/README.md``: where the implementation lives."""
    return (
        "# Implementation\n\nThe runs were made with mlmeter (Python package `mlmeter`); "
        "each `results/.../README.md` gives the commands that reproduce them.\n"
    )


def check_training(src: TrainingRun, *, org: str, division: str) -> None:
    """Training logs are packaged unchanged, so they must declare this org and division."""
    said = src.declared
    if division == "network":
        raise UsageError(
            f"{src.path}: training has no network division; package it with closed or open"
        )
    for key, want, flag in (
        ("submission_org", org, "--org"),
        ("submission_division", division, "--division"),
    ):
        if said.get(key, want) != want:
            raise UsageError(
                f"{src.path}: its logs say {key} {said[key]!r}, not {want!r}; re-run "
                f"`mlmeter train ... {flag} {want}` or package with {flag} {said[key]}"
            )


def training_system(src: TrainingRun, org: str, system: str) -> dict[str, Any]:
    """The training system description, renamed to ``system`` and submitted by ``org``."""
    doc: dict[str, Any] = json.loads(src.system_json.read_text(encoding="utf-8"))
    doc.update(submitter=org, system_name=system)
    return doc


def training_readme(src: TrainingRun) -> str:
    """``benchmarks/<benchmark>/implementations/mlmeter/README.md``."""
    command = str(src.doc.get("command", f"mlmeter train {src.doc.get('workload', '')}"))
    return (
        f"# {src.benchmark} (mlmeter)\n\nTime to train with mlmeter's harness "
        f"(workload `{src.doc.get('workload', '')}`, ruleset {src.ruleset}). Reproduce:\n\n"
        f"```\n{command}\n```\n"
    )


def source_entry(src: Source, files: dict[str, str]) -> dict[str, Any]:
    """A packaged source folder in the manifest, with its files' sha256."""
    if isinstance(src, TrainingRun):
        what: dict[str, Any] = {
            "kind": "training",
            "benchmark": src.benchmark,
            "ruleset": src.ruleset,
        }
    else:
        what = {
            "kind": "inference",
            "workload": src.workload,
            "benchmark": src.benchmark,
            "scenario": src.scenario,
            "mode": src.mode,
            "audit": src.audit,
            "valid": src.valid,
        }
    return {"path": str(src.path), **what, "files": files}


def manifest(
    head: dict[str, str], sources: list[dict[str, Any]], files: dict[str, str]
) -> dict[str, Any]:
    """``mlmeter_submission.json`` (format ``mlmeter.submission``, version 1): ``head``
    holds round, org, division, system, created_utc and mlmeter_version."""
    return {
        "format": L.MANIFEST_FORMAT,
        "version": L.MANIFEST_VERSION,
        **head,
        "sources": sources,
        "files": dict(sorted(files.items())),
    }
