"""Our pre-generated schedule against the official LoadGen wheel (mlcommons-loadgen 6.0.17).

Each case runs the official ``StartTest`` in its own process (LoadGen keeps global
state) with a SUT that answers every query at once and records the QSL indices
it was sent, and a QSL that records what it was asked to load. We then check:

- the issued sample indices are a prefix of ours (SingleStream and MultiStream
  stop early; the official generates more than it issues), query by query;
- the loaded sets are ours, padding included;
- the detail log's ``generated_query_count``, ``generated_samples_per_query``,
  ``generated_query_duration`` (the sum of every truncated gap, so one wrong
  Server gap shows), ``effective_min_query_count`` and
  ``effective_target_duration_ms`` are ours;
- in Server, every query's scheduled time, read from the trace (``ts`` is the
  scheduled time in µs with ns digits), and the summary's scheduled QPS;
- the samples picked for the accuracy log in performance mode.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("mlperf_loadgen")

from mlmeter.loadgen.schedule import (
    Schedule,
    accuracy_log_offset,
    accuracy_log_values,
    generate_schedule,
)

OFFICIAL_SEEDS = {
    "qsl_rng_seed": 2085463073848966840,
    "sample_index_rng_seed": 2747215439041700203,
    "schedule_rng_seed": 16159082839903944936,
}

# Runs one official test; argv: a JSON case and an output folder. Prints JSON.
_RUNNER = r"""
import json, sys
from pathlib import Path
import mlperf_loadgen as lg

case = json.loads(sys.argv[1])
out = Path(sys.argv[2])
issued, loads = [], []

def issue(samples):
    issued.append([s.index for s in samples])
    lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in samples])

settings = lg.TestSettings()
settings.scenario = getattr(lg.TestScenario, case["scenario"])
settings.mode = getattr(lg.TestMode, case["mode"])
for key, value in case["settings"].items():
    setattr(settings, key, value)
log_output = lg.LogOutputSettings()
log_output.outdir = str(out)
log_settings = lg.LogSettings()
log_settings.log_output = log_output
log_settings.enable_trace = case["trace"]
sut = lg.ConstructSUT(issue, lambda: None)
qsl = lg.ConstructQSL(
    case["total"], case["performance"], lambda idx: loads.append(list(idx)), lambda idx: None
)
lg.StartTestWithLogSettings(sut, qsl, settings, log_settings)
lg.DestroyQSL(qsl)
lg.DestroySUT(sut)

detail = {}
for line in (out / "mlperf_log_detail.txt").read_text().splitlines():
    if line.startswith(":::MLLOG"):
        entry = json.loads(line[len(":::MLLOG"):])
        detail.setdefault(entry["key"], []).append(entry["value"])
begins = {}
if case["trace"]:
    # Line by line: the official trace is not valid JSON as a whole (its LogDetail
    # events quote their keys twice).
    for line in (out / "mlperf_log_trace.json").read_text().splitlines():
        if line.startswith('{"name":"Sample"') and '"ph":"b"' in line:
            event = json.loads(line.rstrip(","))
            begins.setdefault(event["args"]["query_seq"], event["ts"])
accuracy = json.loads((out / "mlperf_log_accuracy.json").read_text())
print(json.dumps({
    "issued": issued,
    "loads": loads,
    "detail": detail,
    "query_begin_us": sorted(begins.items()),
    "accuracy_seq_ids": sorted(e["seq_id"] for e in accuracy),
}))
"""


def _case(
    scenario: str,
    mode: str = "PerformanceOnly",
    *,
    total: int = 1000,
    performance: int = 100,
    trace: bool = False,
    **settings: Any,
) -> dict[str, Any]:
    merged: dict[str, Any] = {
        **OFFICIAL_SEEDS,
        "min_duration_ms": 50,
        "min_query_count": 10,
        **settings,
    }
    return {
        "scenario": scenario,
        "mode": mode,
        "total": total,
        "performance": performance,
        "trace": trace,
        "settings": merged,
    }


_SS: dict[str, Any] = {"single_stream_expected_latency_ns": 1_000_000}
_MS: dict[str, Any] = {
    "multi_stream_expected_latency_ns": 1_000_000,
    "multi_stream_samples_per_query": 8,
}
_EQ: dict[str, Any] = {"sample_concatenate_permutation": True}

CASES = {
    "single-stream": _case("SingleStream", **_SS),
    "single-stream-seeds-0": _case(
        "SingleStream", qsl_rng_seed=0, sample_index_rng_seed=0, schedule_rng_seed=0
    ),
    "multi-stream": _case("MultiStream", min_duration_ms=100, **_MS),
    "multi-stream-3": _case(
        "MultiStream",
        min_duration_ms=30,
        multi_stream_expected_latency_ns=333_333,
        multi_stream_samples_per_query=3,
    ),
    "server": _case("Server", trace=True, min_duration_ms=100, server_target_qps=2000.0),
    "server-min-queries": _case(
        "Server", trace=True, min_query_count=300, server_target_qps=1234.5
    ),
    "offline": _case("Offline", min_duration_ms=100, offline_expected_qps=5000.0),
    "offline-min-queries": _case(
        "Offline", min_duration_ms=10, min_query_count=777, offline_expected_qps=100.0
    ),
    "single-stream-accuracy": _case("SingleStream", "AccuracyOnly", **_SS),
    "multi-stream-accuracy": _case("MultiStream", "AccuracyOnly", **_MS),
    "multi-stream-accuracy-tiny-sets": _case(
        "MultiStream",
        "AccuracyOnly",
        total=50,
        performance=7,
        multi_stream_samples_per_query=13,
    ),
    "server-accuracy": _case("Server", "AccuracyOnly", server_target_qps=100_000.0),
    "offline-accuracy": _case("Offline", "AccuracyOnly", offline_expected_qps=1000.0),
    "accuracy-sample-count": _case(
        "SingleStream", "AccuracyOnly", accuracy_sample_count_override=450
    ),
    "single-stream-equal-issue": _case("SingleStream", min_query_count=250, **_SS, **_EQ),
    "multi-stream-equal-issue": _case("MultiStream", min_duration_ms=100, **_MS, **_EQ),
    "server-equal-issue": _case(
        "Server", min_duration_ms=100, min_query_count=150, server_target_qps=500.0, **_EQ
    ),
    "offline-equal-issue": _case(
        "Offline", min_duration_ms=100, offline_expected_qps=5000.0, **_EQ
    ),
    "server-accuracy-equal-issue": _case(
        "Server", "AccuracyOnly", server_target_qps=100_000.0, **_EQ
    ),
    "single-stream-unique": _case("SingleStream", performance_issue_unique=True),
    "multi-stream-same": _case(
        "MultiStream", performance_issue_same=True, performance_issue_same_index=3, **_MS
    ),
    "offline-same": _case(
        "Offline",
        offline_expected_qps=10_000.0,
        performance_issue_same=True,
        performance_issue_same_index=9,
    ),
    "performance-override": _case("SingleStream", performance_sample_count_override=300),
    "large-set": _case(
        "SingleStream",
        total=60_000,
        performance=50_000,
        min_duration_ms=30,
        single_stream_expected_latency_ns=10_000,
    ),
}


def _official(case: dict[str, Any], out: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, json.dumps(case), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _ours(case: dict[str, Any]) -> Schedule:
    """Translate official TestSettings fields into generate_schedule's arguments."""
    s = case["settings"]
    scenario = case["scenario"]
    qps = {
        "SingleStream": 1e9 / s.get("single_stream_expected_latency_ns", 1_000_000),
        "MultiStream": 1e9 / s.get("multi_stream_expected_latency_ns", 8_000_000),
        "Server": s.get("server_target_qps", 1.0),
        "Offline": s.get("offline_expected_qps", 1.0),
    }[scenario]
    return generate_schedule(
        scenario=scenario,
        mode=case["mode"],
        total_sample_count=case["total"],
        performance_sample_count=s.get("performance_sample_count_override") or case["performance"],
        samples_per_query=s.get("multi_stream_samples_per_query", 8)
        if scenario == "MultiStream"
        else 1,
        min_query_count=s["min_query_count"],
        min_duration_ms=s["min_duration_ms"],
        target_qps=qps,
        qsl_rng_seed=s["qsl_rng_seed"],
        sample_index_rng_seed=s["sample_index_rng_seed"],
        schedule_rng_seed=s["schedule_rng_seed"],
        sample_concatenate_permutation=s.get("sample_concatenate_permutation", False),
        performance_issue_unique=s.get("performance_issue_unique", False),
        performance_issue_same=s.get("performance_issue_same", False),
        performance_issue_same_index=s.get("performance_issue_same_index", 0),
        accuracy_sample_count=s.get("accuracy_sample_count_override", 0),
    )


@pytest.mark.parametrize("name", list(CASES))
def test_schedule_matches_official(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    official = _official(case, tmp_path)
    ours = _ours(case)

    issued = official["issued"]
    sizes = np.diff(ours.query_start).tolist()
    assert [len(q) for q in issued] == sizes[: len(issued)]
    flat = [index for query in issued for index in query]
    assert flat == ours.sample_index[: len(flat)].tolist()

    used = ours.loadable_sets if case["mode"] == "AccuracyOnly" else ours.loadable_sets[:1]
    assert official["loads"] == [s.tolist() for s in used]

    detail = official["detail"]
    assert detail["generated_query_count"] == np.diff(ours.set_query_start).tolist()
    assert detail["generated_query_duration"] == ours.set_duration_ns.tolist()
    assert detail["generated_samples_per_query"][0] == ours.samples_per_query
    assert detail["effective_min_query_count"] == [ours.min_query_count]
    assert detail["effective_target_duration_ms"] == [ours.target_duration_ms]
    if case["scenario"] == "Server" or case["mode"] == "AccuracyOnly":
        assert len(issued) == ours.query_count  # these issue every generated query


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c["trace"]])
def test_server_arrival_times_match_official(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    official = _official(case, tmp_path)
    ours = _ours(case)

    begins = official["query_begin_us"]
    assert [q for q, _ in begins] == list(range(ours.query_count))
    first = begins[0][1]
    times = [round((ts - first) * 1000) for _, ts in begins]
    assert times == ours.scheduled_ns.tolist()

    n = ours.query_count
    scheduled_qps = (n - 1) / (int(ours.scheduled_ns[-1]) / 1e9)
    assert official["detail"]["result_scheduled_samples_per_sec"] == [round(scheduled_qps, 2)]


def test_accuracy_log_sampling_matches_official(tmp_path: Path) -> None:
    seed, probability = 720381539243781796, 0.3
    case = _case(
        "SingleStream",
        accuracy_log_probability=probability,
        accuracy_log_rng_seed=seed,
        **_SS,
    )
    official = _official(case, tmp_path)
    ours = _ours(case)

    issued = sum(len(q) for q in official["issued"])
    values = accuracy_log_values(ours.sample_index.size)[:issued] + accuracy_log_offset(seed)
    values = np.where(values < 1.0, values, values - 1.0)
    assert official["accuracy_seq_ids"] == np.flatnonzero(values <= probability).tolist()
