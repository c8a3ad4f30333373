"""Rows from what mlmeter writes: an ``mlmeter run`` folder (``results.json`` and
``system.json``) and an ``mlmeter train`` organisation folder (``result_<i>.txt`` logs,
olympic-scored), and the glue the CLI calls after every run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mlmeter.errors import MlmeterError, UserError
from mlmeter.logfmt import read_results_json
from mlmeter.results._model import RunRow
from mlmeter.results._open import open_store
from mlmeter.results._sql import utc_now
from mlmeter.results._system import accelerator_count, system_name
from mlmeter.training._results import score_logs
from mlmeter.training._spec import BenchmarkSpec

# scenario -> (detail key of the submission metric, unit, higher is better); loadgen.md §1
SCENARIO_METRICS = {
    "Offline": ("result_samples_per_second", "samples/s", True),
    "Server": ("result_completed_samples_per_sec", "samples/s", True),
    "SingleStream": ("early_stopping_latency_ss", "ms", False),
    "MultiStream": ("early_stopping_latency_ms", "ms", False),
}
# LLMs (use_token_latencies): loadgen.md §7, the checker's RESULT_FIELD_BENCHMARK_OVERWRITE
TOKEN_METRICS = {
    "Offline": "result_tokens_per_second",
    "Server": "result_completed_tokens_per_second",
}


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not readable JSON ({exc})") from None
    return doc if isinstance(doc, dict) else {}


def scenario_metric(result: dict[str, Any]) -> tuple[str, float | None, str, bool]:
    """(metric, value, unit, higher_is_better) of a results.json ``result``."""
    scenario = result["scenario"]
    metric, unit, higher = SCENARIO_METRICS[scenario]
    tokens = result.get("tokens")
    if tokens and scenario in TOKEN_METRICS:
        return TOKEN_METRICS[scenario], float(tokens["tokens_per_second"]), "tokens/s", True
    if scenario == "Offline":
        return metric, result.get("samples_per_second"), unit, higher
    if scenario == "Server":
        return metric, result.get("completed_samples_per_sec"), unit, higher
    ns = result["early_stopping"].get("estimate_ns") or result.get("target_percentile_latency_ns")
    return metric, None if ns is None else ns / 1e6, unit, higher


def benchmark_of(sut_name: str) -> str:
    """The MLPerf benchmark of a run from its SUT name (``<workload>-<backend>``): the
    workload's ``mlperf_model``; the SUT name itself when no workload matches."""
    from mlmeter.workloads import available

    matches = [n for n in available() if sut_name == n or sut_name.startswith(n + "-")]
    if not matches:
        return sut_name
    return available()[max(matches, key=len)].benchmark()


def _latencies_ms(result: dict[str, Any]) -> dict[str, float]:
    stats = result.get("query_latency") or result.get("sample_latency") or {}
    pcts = stats.get("percentiles") or {}
    out = {f"p{float(p) * 100:g}": v / 1e6 for p, v in pcts.items()}
    if stats.get("mean_ns") is not None:
        out["mean"] = stats["mean_ns"] / 1e6
    return out


def rows_from_run(run_dir: Path, benchmark: str = "") -> list[RunRow]:
    """One row for an ``mlmeter run`` output folder (none for an accuracy-only run)."""
    run_dir = Path(run_dir)
    doc = read_results_json(run_dir / "results.json")
    result = doc.get("result")
    if not result:
        return []
    system = {**_read_json(run_dir / "system.json"), **(doc.get("system") or {})}
    header = doc.get("run") or {}
    metric, value, unit, higher = scenario_metric(result)
    extra = {
        "latency_ms": _latencies_ms(result),
        "target_qps": doc["effective"].get("target_qps"),
        "sut": header.get("sut_name", ""),
        "mode": result.get("mode", ""),
        "samples": result.get("sample_count"),
        "duration_s": (result.get("duration_ns") or 0) / 1e9,
        "settings": doc.get("effective", {}),
    }
    return [
        RunRow(
            id=0, recorded_at=utc_now(), source="run", kind="inference",
            division=str(system.get("division", "")), org=str(system.get("submitter", "")),
            system=system_name(system, doc.get("provenance", {}).get("hostname", "")),
            benchmark=benchmark
            or str((doc.get("workload") or {}).get("benchmark") or "")
            or benchmark_of(header.get("sut_name", "")),
            scenario=result["scenario"], metric=metric,
            value=None if value is None else float(value), unit=unit,
            valid=bool(doc["validity"]["valid"]), higher_is_better=higher,
            accelerator=str(system.get("accelerator_model_name", "")),
            accelerators=accelerator_count(system), run_at=header.get("test_datetime", ""),
            path=str(run_dir.resolve()), tool_version=doc["tool"]["version"], extra=extra,
        )
    ]  # fmt: skip


def _spec(train: dict[str, Any], benchmark: str) -> BenchmarkSpec:
    if train.get("benchmark") == benchmark:
        return BenchmarkSpec(
            benchmark, str(train["ruleset"]), train["progress"], float(train["target"])
        )
    return BenchmarkSpec(benchmark, "4.0.0", "epoch", 0.0)


def rows_from_training(org_dir: Path) -> list[RunRow]:
    """One row per benchmark of an ``mlmeter train`` output folder: the olympic score in
    minutes of its ``results/<system>/<benchmark>/result_<i>.txt`` logs."""
    org_dir = Path(org_dir)
    train = _read_json(org_dir / "mlmeter_train.json")
    rows = []
    for bench_dir in sorted(org_dir.glob("results/*/*")):
        logs = sorted(bench_dir.glob("result_*.txt"), key=lambda p: int(p.stem[7:] or 0))
        if logs:
            rows.append(_training_row(org_dir, bench_dir, logs, train))
    if not rows:
        raise UserError(f"{org_dir}: no results/<system>/<benchmark>/result_*.txt training logs")
    return rows


def _training_row(
    org_dir: Path, bench_dir: Path, logs: list[Path], train: dict[str, Any]
) -> RunRow:
    spec = _spec(train, bench_dir.name)
    required = len(logs) if len(logs) > 2 * spec.drop else spec.runs
    scored = score_logs(logs, spec, required_runs=required)
    system = _read_json(org_dir / "systems" / f"{bench_dir.parent.name}.json")
    extra = {
        "run_minutes": [r.minutes for r in scored.runs],
        "seeds": [r.seed for r in scored.runs],
        "workload": train.get("workload", ""),
        "ruleset": spec.ruleset,
        "message": scored.score.message,
    }
    return RunRow(
        id=0, recorded_at=utc_now(), source="train", kind="training",
        division=str(system.get("division", "")), org=str(system.get("submitter", "")),
        system=system_name(system, bench_dir.parent.name), benchmark=bench_dir.name,
        scenario="", metric="time_to_train_minutes", value=scored.score.score, unit="minutes",
        valid=scored.score.valid, higher_is_better=False,
        accelerator=str(system.get("accelerator_model_name", "")),
        accelerators=accelerator_count(system), run_at=_mtime(logs[-1]),
        path=str(bench_dir.resolve()), tool_version=_train_tool(train),
        extra=extra,
    )  # fmt: skip


def _train_tool(train: dict[str, Any]) -> str:
    stack = (train.get("system") or {}).get("other_software_stack") or {}
    return str(stack.get("mlmeter", "")) if isinstance(stack, dict) else ""


def _mtime(path: Path) -> str:
    import datetime as _dt

    when = _dt.datetime.fromtimestamp(int(path.stat().st_mtime), _dt.UTC)
    return when.isoformat().replace("+00:00", "Z")


def _record(rows_of: Any, folder: Path, url: str | None) -> str | None:
    try:
        rows = rows_of(Path(folder))
        with open_store(url) as store:
            ids = store.add(rows)
    except (MlmeterError, OSError, ValueError, KeyError, TypeError) as exc:
        print(f"warning: not recorded in the results database: {exc}", file=sys.stderr)
        return None
    return f"recorded as run {', '.join(map(str, ids))} in {store.url}" if ids else None


def record_run_dir(run_dir: Path, url: str | None = None) -> str | None:
    """Record an ``mlmeter run`` folder; a line saying where, or None after printing a
    one-line warning (recording never fails the run)."""
    return _record(rows_from_run, run_dir, url)


def record_training_dir(org_dir: Path, url: str | None = None) -> str | None:
    """Record an ``mlmeter train`` folder, as ``record_run_dir``."""
    return _record(rows_from_training, org_dir, url)
