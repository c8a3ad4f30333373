"""The public surface and the layering of STYLE.md.

- Each public package has a small, sorted ``__all__`` that matches the list committed
  here (a change to the public API is a change to this file), and every name resolves.
- Every module of ``src/mlmeter`` imports only from the layers above its own (parsed
  with ``ast``, lazy imports inside functions included).
- ``mlmeter.loadgen`` stays ignorant: no model, data or power library and none of
  mlmeter's workloads/power/submission, statically and at import time.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "mlmeter"

PUBLIC_API: dict[str, list[str]] = {
    "mlmeter.storage": [
        "CheckpointBytes",
        "CheckpointConfig",
        "CheckpointModel",
        "Comm",
        "DataSize",
        "DatasetManifest",
        "DatasetPlan",
        "DatasetTooSmall",
        "LocalComm",
        "RunMetrics",
        "RunOptions",
        "SearchResult",
        "StorageResult",
        "StorageWorkload",
        "accelerator_utilization",
        "check_dataset",
        "checkpoint_bytes",
        "checkpoint_model_names",
        "data_size",
        "generate_dataset",
        "load_checkpoint_model",
        "load_workload",
        "min_samples",
        "mpi_comm",
        "num_parameters",
        "parse_size",
        "plan_dataset",
        "read_manifest",
        "run_local_ranks",
        "run_storage",
        "search_max_accelerators",
        "workload_names",
    ],
    "mlmeter.power": [
        "CLOCK_LIMIT_CHECKER_S",
        "CLOCK_LIMIT_RUN_S",
        "Availability",
        "ClockOffset",
        "DirectorMeter",
        "DirectorSession",
        "FakePtd",
        "FakeWallClock",
        "InferencePower",
        "Meter",
        "MeterInfo",
        "MeterUnavailable",
        "NodeLog",
        "NvmlMeter",
        "PhaseResult",
        "PowerError",
        "PowerRunResult",
        "PowerSample",
        "PowerWindow",
        "PtdMeter",
        "RaplMeter",
        "SimulatedMeter",
        "TrainingEnergy",
        "WindowStats",
        "format_power_time",
        "get_meter",
        "in_window",
        "inference_power",
        "interval_energy",
        "measure_offset",
        "meter_names",
        "parse_power_time",
        "ranging_problems",
        "read_node_log",
        "read_spl",
        "run_with_power",
        "training_energy",
        "window_from_detail",
        "window_stats",
        "write_node_log",
        "write_spl",
    ],
    "mlmeter.submission": [
        "MAX_ACCURACY_LOG_SIZE",
        "MAX_BYTES",
        "MAX_FILES",
        "VIEWABLE_SIZE",
        "Finding",
        "Findings",
        "InferenceEntry",
        "PackageResult",
        "Packaged",
        "Severity",
        "SystemDesc",
        "TrainingEntry",
        "Tree",
        "UnsafeArchive",
        "check_tree",
        "load_tree",
        "open_tree",
        "package",
        "safe_extract",
        "truncate_accuracy_log",
    ],
    "mlmeter.rules": [
        "CATEGORIES",
        "SCENARIOS",
        "Accuracy",
        "Benchmark",
        "RequiredFiles",
        "Round",
        "Seeds",
        "TrainingBenchmark",
        "available_rounds",
        "latest_official",
        "load_round",
    ],
    "mlmeter.results": [
        "KINDS",
        "SOURCES",
        "Delta",
        "RunFilter",
        "RunRow",
        "Store",
        "compare",
        "default_url",
        "open_store",
        "record_run_dir",
        "record_training_dir",
        "rows_from_run",
        "rows_from_training",
        "rows_from_tree",
    ],
    "mlmeter.dashboard": [
        "dashboard_app",
    ],
    "mlmeter.system": [
        "STATUS_PHRASES",
        "describe_system",
        "training_system_description",
        "write_system_json",
    ],
    "mlmeter.training": [
        "MARKER",
        "BenchmarkSpec",
        "Comm",
        "EventType",
        "JsonValue",
        "LocalComm",
        "LogOptions",
        "MllogEvent",
        "MllogLogger",
        "MllogParseError",
        "RunOutcome",
        "SampleStream",
        "SubmissionInfo",
        "TimeLimitExceeded",
        "TrainOptions",
        "Trainer",
        "TrainingAborted",
        "TrainingDiverged",
        "TrainingRun",
        "TrainingWorkload",
        "encode_line",
        "get_training_workload",
        "keys",
        "parse_mllog_line",
        "read_mllog",
        "run_training",
        "select_recipe",
        "training_workload_names",
    ],
    "mlmeter.reporting": [
        "EXPORTERS",
        "REPORT_FORMAT",
        "REPORT_VERSION",
        "TABLE_EXPORTERS",
        "TABLE_FORMAT",
        "TABLE_VERSION",
        "AccuracyInfo",
        "CheckRow",
        "Curve",
        "Exporter",
        "Histogram",
        "Report",
        "RunData",
        "RunPlots",
        "RunReport",
        "SampleTimings",
        "SubmissionTable",
        "SummaryRow",
        "TableExporter",
        "TableRow",
        "build_report",
        "build_table",
        "exporter_for",
        "exporter_names",
        "get_exporter",
        "get_table_exporter",
        "load_run",
        "load_runs",
        "read_timings",
    ],
    "mlmeter.loadgen": [
        "QSL",
        "SUT",
        "ArraySUT",
        "IntArray",
        "LogSettings",
        "Progress",
        "QuerySample",
        "QuerySampleResponse",
        "TestResult",
        "abort",
        "complete",
        "complete_arrays",
        "first_token",
        "late_responses",
        "sample_error",
        "start_test",
    ],
    "mlmeter.settings": [
        "CONF_KEYS",
        "FIELD_NAMES",
        "OFFICIAL_QSL_RNG_SEED",
        "OFFICIAL_SAMPLE_INDEX_RNG_SEED",
        "OFFICIAL_SCHEDULE_RNG_SEED",
        "OVERRIDE_NAMES",
        "SHIPPED_MLPERF_CONF",
        "ConfLine",
        "ConfSource",
        "EffectiveSettings",
        "ResolvedSettings",
        "Scenario",
        "TestMode",
        "TestSettings",
        "apply_conf",
        "apply_overrides",
        "derive",
        "known_models",
        "load_test_settings",
        "parse_conf",
        "read_conf",
        "resolve_test_settings",
    ],
    "mlmeter.stats": [
        "NOT_SET",
        "REPORTED_PERCENTILES",
        "EarlyStoppingEstimate",
        "RunRecord",
        "ServerEarlyStopping",
        "compute_performance",
        "latency_stats",
        "min_passing_count",
        "percentile",
        "percentile_index",
        "queries_needed_single_stream",
        "server_early_stopping",
        "single_stream_estimate",
        "token_errors",
    ],
    "mlmeter.logfmt": [
        "MAX_TIMED_SAMPLES",
        "OFFICIAL_LOADGEN_VERSION",
        "RESULTS_FORMAT",
        "RESULTS_VERSION",
        "TIMINGS_FILE",
        "TIMINGS_FORMAT",
        "TIMINGS_VERSION",
        "AccuracyEntry",
        "Check",
        "EarlyStoppingReport",
        "LatencyStats",
        "LogPaths",
        "LogRecord",
        "PerformanceResult",
        "RunHeader",
        "RunProblems",
        "TokenStats",
        "Verdict",
        "accuracy_entry_text",
        "atomic_write_bytes",
        "atomic_write_text",
        "atomic_writer",
        "detail_records",
        "es_estimate",
        "es_estimate_line",
        "es_not_enough_for",
        "es_run_successful",
        "es_run_unsuccessful",
        "es_too_few_queries",
        "fmt_double",
        "fmt_fixed",
        "log_paths",
        "migrate_results",
        "mllog_line",
        "mllog_value",
        "read_accuracy_log",
        "read_detail",
        "read_results_json",
        "render_summary",
        "requested_items",
        "results_document",
        "verdict",
        "write_accuracy_log",
        "write_detail",
        "write_results_json",
        "write_timings",
        "write_trace",
    ],
    "mlmeter.suts": [
        "BACKENDS",
        "BatchingSUT",
        "FixedLatencySUT",
        "HttpSUT",
        "InferenceServer",
        "NullQSL",
        "NullSUT",
        "RecordingQSL",
        "RecordingSUT",
        "Runner",
        "SampleFailure",
        "WorkerPoolSUT",
        "cache_dir",
        "check_backend",
        "export_onnx",
        "onnx_runner",
        "onnx_session",
        "probe",
        "torch_runner",
    ],
    "mlmeter.compat.mlperf_loadgen": [
        "ConstructFastSUT",
        "ConstructQDL",
        "ConstructQSL",
        "ConstructSUT",
        "DestroyFastSUT",
        "DestroyQDL",
        "DestroyQSL",
        "DestroySUT",
        "FirstTokenComplete",
        "LogOutputSettings",
        "LogSettings",
        "LoggingMode",
        "QuerySample",
        "QuerySampleResponse",
        "QuerySamplesComplete",
        "StartTest",
        "StartTestWithLogSettings",
        "TestMode",
        "TestScenario",
        "TestSettings",
        "VectorQuerySample",
        "VectorQuerySampleResponse",
        "last_result",
    ],
}

# STYLE.md "Layout": a module imports only from layers above its own. Packages that do
# not exist yet are listed so that a new one lands in its layer.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(names.split())
    for names in (
        "errors clock events units plugins _version",  # layer 0: no project imports
        "settings",
        "rules",
        "logfmt",
        "stats",
        "loadgen",
        "compat",
        "suts",
        "training",
        "power system",
        "workloads",
        "storage",
        "submission",
        "reporting",
        "results",
        "dashboard",  # the read-only web page over the results store (after STYLE's results/)
        "cli",  # nothing imports it
    )
)
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}
# The package root stays light (layer 0 only); ``python -m mlmeter`` is the CLI.
ROOT_LAYER = {"__init__": 0, "__main__": LAYER_OF["cli"]}

# What the loadgen must never import: model, data and power libraries, and the parts
# of mlmeter that know about models, data, power or submission rules.
LOADGEN_FORBIDDEN = (
    "torch",
    "onnxruntime",
    "tensorflow",
    "jax",
    "transformers",
    "mlperf_loadgen",
    "mlmeter.workloads",
    "mlmeter.power",
    "mlmeter.system",
    "mlmeter.submission",
    "mlmeter.training",
    "mlmeter.suts",
    "mlmeter.cli",
)


# ---------------------------------------------------------------- __all__


def _ruff_isort_key(name: str) -> tuple[int, str]:
    """RUF022's isort-style order: CONSTANTS, then CamelCase, then the rest."""
    if name.isupper():
        return (0, name)
    if name[0].isupper():
        return (1, name)
    return (2, name)


@pytest.mark.parametrize("module_name", sorted(PUBLIC_API))
def test_all_is_the_committed_list(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert len(names) == len(set(names)), "duplicates in __all__"
    expected = set(PUBLIC_API[module_name])
    added, removed = sorted(set(names) - expected), sorted(expected - set(names))
    assert not added and not removed, (
        f"{module_name}.__all__ changed: added {added}, removed {removed}; "
        "update PUBLIC_API here if the change is intended"
    )


@pytest.mark.parametrize("module_name", sorted(PUBLIC_API))
def test_all_is_sorted(module_name: str) -> None:
    names = list(importlib.import_module(module_name).__all__)
    assert names == sorted(names, key=_ruff_isort_key)


@pytest.mark.parametrize("module_name", sorted(PUBLIC_API))
def test_every_public_name_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        assert not name.startswith("_"), f"private name {name} in __all__"
        assert hasattr(module, name), f"{module_name}.{name} does not resolve"
    namespace: dict[str, object] = {}
    exec(f"from {module_name} import *", namespace)
    assert set(module.__all__) <= set(namespace)


# ---------------------------------------------------------------- layering


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _dotted(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    return _imports_in(path.read_text(encoding="utf-8"), _dotted(path), path.name == "__init__.py")


def _imports_in(source: str, dotted: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``source``, relative ones resolved."""
    package = dotted if is_package else dotted.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            if base == "mlmeter":  # from mlmeter import loadgen
                found.extend((node.lineno, f"mlmeter.{alias.name}") for alias in node.names)
    return found


def _component(dotted: str) -> str:
    """``mlmeter.settings._conf`` -> ``settings``; ``mlmeter`` -> ``__init__``."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(component: str) -> int:
    if component in ROOT_LAYER:
        return ROOT_LAYER[component]
    if component not in LAYER_OF:
        raise AssertionError(
            f"mlmeter.{component} is in no layer: add it to STYLE.md's layout and to LAYERS"
        )
    return LAYER_OF[component]


def _allowed(own: str, other: str) -> bool:
    if other in (own, "__init__"):
        return True  # within a package; ``from mlmeter import x`` is checked as mlmeter.x
    if own in ROOT_LAYER:  # the root may use its own layer: __init__ -> _version, __main__ -> cli
        return _layer(other) <= ROOT_LAYER[own]
    return _layer(own) > 0 and _layer(other) < _layer(own)  # layer 0: no project imports


def _violations_in(source: str, dotted: str, is_package: bool, where: str) -> list[str]:
    own = _component(dotted)
    out = []
    for line, target in _imports_in(source, dotted, is_package):
        if target != "mlmeter" and not target.startswith("mlmeter."):
            continue
        other = _component(target)
        if not _allowed(own, other):
            out.append(
                f"{where}:{line}: mlmeter.{own} (layer {_layer(own)}) imports {target} "
                f"(layer {_layer(other)})"
            )
    return out


def _violations(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    where = str(path.relative_to(SRC.parent))
    return _violations_in(source, _dotted(path), path.name == "__init__.py", where)


def test_every_module_imports_only_from_layers_above_it() -> None:
    problems = [v for path in _modules() for v in _violations(path)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("dotted", "source", "bad_lines"),
    [
        ("mlmeter.settings._x", "from mlmeter.loadgen import start_test\n", [1]),
        ("mlmeter.settings._x", "from . import _conf\nfrom mlmeter.errors import E\n", []),
        ("mlmeter.stats._x", "def f():\n    from ..loadgen import _api\n", [2]),
        ("mlmeter.errors", "import mlmeter.clock\n", [1]),
        ("mlmeter.loadgen._x", "from mlmeter import suts, settings\n", [1]),
        ("mlmeter.cli.run", "from mlmeter.compat import mlperf_loadgen\n", []),
    ],
)
def test_layer_check_itself(dotted: str, source: str, bad_lines: list[int]) -> None:
    problems = _violations_in(source, dotted, False, "x.py")
    assert [int(p.split(":")[1]) for p in problems] == bad_lines, problems


def test_loadgen_imports_no_models_data_or_power_statically() -> None:
    problems = []
    for path in sorted((SRC / "loadgen").rglob("*.py")):
        for line, target in _imports(path):
            if any(target == f or target.startswith(f + ".") for f in LOADGEN_FORBIDDEN):
                problems.append(f"{path.relative_to(SRC.parent)}:{line}: imports {target}")
    assert not problems, "\n".join(problems)


def test_importing_the_loadgen_loads_no_models_data_or_power() -> None:
    code = (
        "import sys, mlmeter.loadgen, mlmeter.compat.mlperf_loadgen\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = proc.stdout.split()
    bad = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in LOADGEN_FORBIDDEN)]
    assert not bad, bad
