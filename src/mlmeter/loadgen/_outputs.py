"""Writing a run's files: summary, detail, accuracy log, optional trace, results.json.

Formatting happens here, after the clock stopped; every file is written atomically
and even a failed run gets its summary and detail log.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlmeter._version import __version__
from mlmeter.clock import wall_clock_utc_ns
from mlmeter.loadgen._interfaces import QSL
from mlmeter.loadgen._log_settings import LogSettings
from mlmeter.loadgen._recorder import Recorder
from mlmeter.logfmt import (
    MAX_TIMED_SAMPLES,
    TIMINGS_FILE,
    AccuracyEntry,
    LogRecord,
    PerformanceResult,
    RunHeader,
    RunProblems,
    atomic_write_text,
    detail_records,
    render_summary,
    write_accuracy_log,
    write_detail,
    write_results_json,
    write_timings,
    write_trace,
)
from mlmeter.settings import EffectiveSettings, TestSettings
from mlmeter.stats import NOT_SET, RunRecord


@dataclass
class RunOutputs:
    """Paths of the files a run wrote."""

    summary: Path | None = None
    detail: Path | None = None
    accuracy: Path | None = None
    trace: Path | None = None
    results_json: Path | None = None
    extra: dict[str, Path] = field(default_factory=dict)


def write_outputs(
    logs: LogSettings,
    *,
    requested: TestSettings,
    eff: EffectiveSettings,
    sut_name: str,
    sut_name_ns: int,
    qsl: QSL,
    records: list[LogRecord],
    record: RunRecord | None,
    result: PerformanceResult | None,
    recorder: Recorder | None,
    origin_ns: int,
    start_ns: int,
) -> RunOutputs:
    """Write every output file of one run; return their paths."""
    Path(logs.outdir).mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H-%M-%S")
    out = RunOutputs()
    end_ns = _dt_ns(origin_ns)
    run_records = list(records)
    if record is not None:
        run_records += _power_records(record, start_ns - origin_ns, end_ns)
    problems = _problems(run_records, record)
    header = _header(sut_name, sut_name_ns, qsl)
    out.summary = logs.path("summary", "txt", stamp)
    summary = render_summary(sut_name=sut_name, effective=eff, result=result, problems=problems)
    atomic_write_text(out.summary, summary)
    out.detail = logs.path("detail", "txt", stamp)
    all_records = detail_records(
        header=header,
        requested=requested,
        effective=eff,
        run_records=run_records,
        result=result,
        problems=problems,
        end_time_ns=end_ns,
    )
    write_detail(out.detail, all_records, pid=os.getpid(), tid=threading.get_native_id())
    out.accuracy = logs.path("accuracy", "json", stamp)
    write_accuracy_log(out.accuracy, _accuracy_entries(recorder, record))
    if record is not None and record.samples_issued <= MAX_TIMED_SAMPLES:
        out.extra["timings"] = _write_timings(Path(logs.outdir) / TIMINGS_FILE, record)
    if logs.enable_trace and record is not None:
        out.trace = logs.path("trace", "json", stamp)
        _write_trace(out.trace, record, start_ns)
    if logs.write_results_json:
        out.results_json = Path(logs.outdir) / "results.json"
        write_results_json(
            out.results_json,
            header=header,
            requested=requested,
            effective=eff,
            result=result,
            problems=problems,
            provenance=provenance(),
        )
    _copy_to_stdout(logs, summary, out.detail)
    return out


def _dt_ns(origin_ns: int) -> int:
    from time import perf_counter_ns

    return perf_counter_ns() - origin_ns


def _header(sut_name: str, sut_name_ns: int, qsl: QSL) -> RunHeader:
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return RunHeader(
        test_datetime=now,
        sut_name=sut_name,
        get_sut_name_duration_ns=sut_name_ns,
        qsl_name=qsl.name,
        qsl_total_count=qsl.total_sample_count,
        qsl_performance_count=qsl.performance_sample_count,
    )


def _power_records(record: RunRecord, start_rel_ns: int, end_ns: int) -> list[LogRecord]:
    """``power_begin``/``power_end`` in UTC wall time, as the power tooling reads them."""
    done = record.completed_ns[: record.samples_issued]
    done = done[done != NOT_SET]
    active = int(done.max()) if done.size else 0
    wall_start = wall_clock_utc_ns() - (end_ns - start_rel_ns)
    return [
        LogRecord("power_begin", _power_time(wall_start), start_rel_ns),
        LogRecord("power_end", _power_time(wall_start + active), start_rel_ns + active),
    ]


def _power_time(wall_ns: int) -> str:
    t = _dt.datetime.fromtimestamp(wall_ns / 1e9, _dt.UTC)
    return t.strftime("%m-%d-%Y %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def _problems(records: list[LogRecord], record: RunRecord | None) -> RunProblems:
    errors = tuple(str(r.value) for r in records if r.is_error)
    warnings = tuple(str(r.value) for r in records if r.is_warning)
    if record is None:
        return RunProblems(errors=errors, warnings=warnings)
    return RunProblems(
        errors=errors,
        warnings=warnings,
        missing_samples=record.missing_samples,
        unknown_responses=record.unknown_responses,
        duplicate_responses=record.duplicate_responses,
    )


def _accuracy_entries(rec: Recorder | None, record: RunRecord | None) -> list[AccuracyEntry]:
    if rec is None or record is None:
        return []
    idx = record.sample_index
    out = []
    for _, sid, data, n_tok in rec.captured:
        seq = sid - rec.base
        if not 0 <= seq < idx.size:
            continue
        tok = rec.first_token_data.get(sid) if rec.first_token_data else None
        out.append(AccuracyEntry(seq, int(idx[seq]), data, tok, n_tok or None))
    return out


def _write_timings(path: Path, record: RunRecord) -> Path:
    nq, ns = record.queries_issued, record.samples_issued
    return write_timings(
        path,
        query_start=record.query_start[: nq + 1],
        scheduled_ns=record.scheduled_ns[:nq],
        issued_ns=record.issued_ns[:nq],
        completed_ns=record.completed_ns[:ns],
    )


def _write_trace(path: Path, record: RunRecord, start_ns: int) -> None:
    ns = record.samples_issued
    sizes = np.diff(record.query_start[: record.queries_issued + 1])
    query_seq = np.repeat(np.arange(record.queries_issued, dtype=np.int64), sizes)
    write_trace(
        path,
        origin_ns=0,
        sample_seq=np.arange(ns, dtype=np.int64),
        query_seq=query_seq,
        sample_index=record.sample_index[:ns],
        issue_ns=record.issued_ns[query_seq],
        complete_ns=record.completed_ns[:ns],
        scheduled_ns=record.scheduled_ns[query_seq],
    )


def provenance() -> dict[str, Any]:
    """Tool, interpreter and system description recorded with every run.

    Includes the noisy knobs that make numbers move (load average, CPU governor).
    """
    return {
        "mlmeter_version": __version__,
        "mlmeter_git": _git_state(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "hostname": platform.node(),
        "pid": os.getpid(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "cpu_governor": _read_first("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "wall_clock_utc_ns": wall_clock_utc_ns(),
    }


def _read_first(path: str) -> str | None:
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def _git_state() -> dict[str, str] | None:
    """Commit and dirtiness of the mlmeter checkout, when running from one."""
    import subprocess

    root = Path(__file__).resolve().parents[3]
    if not (root / ".git").exists():
        return None
    try:

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5
            ).stdout.strip()

        return {
            "commit": git("rev-parse", "HEAD"),
            "dirty": str(bool(git("status", "--porcelain"))),
        }
    except (OSError, subprocess.SubprocessError):
        return None


def _copy_to_stdout(logs: LogSettings, summary: str, detail: Path) -> None:
    if logs.copy_summary_to_stdout:
        sys.stdout.write(summary)
    if logs.copy_detail_to_stdout:
        sys.stdout.write(detail.read_text())
