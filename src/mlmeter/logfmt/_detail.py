"""``mlperf_log_detail.txt``: the official ``:::MLLOG`` key sequence and line format.

Every line is ``:::MLLOG {"key": K, "value": V, "time_ms": T, "namespace":
"mlperf::logging", "event_type": "POINT_IN_TIME", "metadata": {"is_error": b,
"is_warning": b, "file": F, "line_no": n, "pid": n, "tid": n}}`` with keys in that order.
Values: strings JSON-escaped, bools ``true``/``false``, ints as is, doubles in the C++
default form (6 significant digits: ``0.99``, ``1000``, ``1.43398e+06``), lists and dicts
without spaces (``[27,30,1]``, ``{"/a":"sha"}``); ``time_ms`` is ns / 1e6 with 6 decimals.

Key order: version keys, test/SUT/QSL header, ``requested_*`` (scenario-specific ones only
for the run's scenario; token keys only when token latencies are on), ``effective_*``
(the official 26 in official order, then mlmeter's extra effective settings), the run's
own records as given, then the ``result_*`` block and ``num_errors`` (performance only).
Generated records carry ``file`` = version.py / settings.py / results.py and line 0.

Official quirks kept on purpose:
- ``requested_{single,multi}_stream_expected_latency_ns`` are logged as doubles
  (``1e+06``);
- ``result_invalid_reason`` is ``""`` when only early stopping failed, and has the
  official trailing spaces;
- ``result_token_throughput`` divides tokens by the mean latency in *ns* times samples
  (a unit slip in LoadGen); the correct figure is in results.json and the summary;
- ``num_errors`` counts the records flagged ``is_error`` (what both checker parsers count).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from mlmeter.errors import UserError
from mlmeter.logfmt._atomic import StrPath, atomic_writer
from mlmeter.logfmt._detail_results import result_items
from mlmeter.logfmt._mllog import MARKER, mllog_line
from mlmeter.logfmt._records import LogRecord, PerformanceResult, RunHeader, RunProblems
from mlmeter.settings import EffectiveSettings, Scenario, TestSettings

_SRC_VERSION = "version.py"
_SRC_SETTINGS = "settings.py"
_SRC_RESULTS = "results.py"
_Items = list[tuple[str, object]]


def detail_records(
    *,
    header: RunHeader,
    requested: TestSettings,
    effective: EffectiveSettings,
    run_records: Sequence[LogRecord],
    result: PerformanceResult | None,
    problems: RunProblems,
    end_time_ns: int,
) -> list[LogRecord]:
    """Every detail-log record of a run, in the official order.

    ``problems`` is accepted for symmetry with the summary; the detail's own error count
    (``num_errors``) is taken from the records flagged ``is_error``.
    """
    del problems  # the records carry the errors themselves
    out = _records(_version_items(header), 0, _SRC_VERSION)
    out += _records(_header_items(header), 0, _SRC_SETTINGS)
    out += _records(requested_items(requested), 0, _SRC_SETTINGS)
    out += _records(effective.log_items(), 0, _SRC_SETTINGS)
    out += run_records
    if result is not None:
        out += _records(result_items(effective, result), end_time_ns, _SRC_RESULTS)
        errors = sum(1 for r in out if r.is_error)
        out.append(LogRecord("num_errors", errors, end_time_ns, source=_SRC_RESULTS))
    return out


def _records(items: _Items, time_ns: int, source: str) -> list[LogRecord]:
    return [LogRecord(key, value, time_ns, source=source) for key, value in items]


def _version_items(h: RunHeader) -> _Items:
    return [
        ("loadgen_version", h.loadgen_version),
        ("loadgen_build_date_local", h.build_date_local),
        ("loadgen_build_date_utc", h.build_date_utc),
        ("loadgen_git_commit_date", h.git_commit_date),
        ("loadgen_git_log_message", h.git_log_message),
        ("loadgen_git_status_message", h.git_status_message),
        ("loadgen_file_sha1", dict(h.file_sha1)),
    ]


def _header_items(h: RunHeader) -> _Items:
    return [
        ("test_datetime", h.test_datetime),
        ("sut_name", h.sut_name),
        ("get_sut_name_duration_ns", h.get_sut_name_duration_ns),
        ("qsl_name", h.qsl_name),
        ("qsl_reported_total_count", h.qsl_total_count),
        ("qsl_reported_performance_count", h.qsl_performance_count),
    ]


def requested_items(s: TestSettings) -> _Items:
    """``requested_*`` pairs as the official logs them for ``s.scenario``."""
    items: _Items = [("scenario", s.scenario.value), ("test_mode", s.mode.value)]
    items += _scenario_requested(s)
    items += [
        (name, getattr(s, name))
        for name in (
            "min_duration_ms",
            "max_duration_ms",
            "min_query_count",
            "max_query_count",
            "qsl_rng_seed",
            "sample_index_rng_seed",
            "schedule_rng_seed",
            "accuracy_log_rng_seed",
            "accuracy_log_probability",
            "accuracy_log_sampling_target",
            "print_timestamps",
            "performance_issue_unique",
            "performance_issue_same",
            "performance_issue_same_index",
            "performance_sample_count_override",
            "accuracy_sample_count_override",
            "sample_concatenate_permutation",
        )
    ]
    items += _token_requested(s)
    return [(f"requested_{name}", value) for name, value in items]


def _scenario_requested(s: TestSettings) -> _Items:
    if s.scenario is Scenario.SINGLE_STREAM:
        return [
            ("single_stream_expected_latency_ns", float(s.single_stream_expected_latency_ns)),
            ("single_stream_target_latency_percentile", s.single_stream_target_latency_percentile),
        ]
    if s.scenario is Scenario.MULTI_STREAM:
        return [
            ("multi_stream_expected_latency_ns", float(s.multi_stream_expected_latency_ns)),
            ("multi_stream_target_latency_percentile", s.multi_stream_target_latency_percentile),
            ("multi_stream_samples_per_query", s.multi_stream_samples_per_query),
        ]
    if s.scenario is Scenario.SERVER:
        return [(name, getattr(s, name)) for name in _SERVER_REQUESTED]
    return [("offline_expected_qps", s.offline_expected_qps)]


_SERVER_REQUESTED = (
    "server_target_qps",
    "server_target_latency_ns",
    "server_target_latency_percentile",
    "server_coalesce_queries",
    "server_find_peak_qps_decimals_of_precision",
    "server_find_peak_qps_boundary_step_size",
    "server_max_async_queries",
    "server_num_issue_query_threads",
)


def _token_requested(s: TestSettings) -> _Items:
    if not s.use_token_latencies:
        return []
    items: _Items = [("use_token_latencies", True)]
    if s.scenario is not Scenario.OFFLINE:
        items += [
            ("server_ttft_latency", s.server_ttft_latency),
            ("server_tpot_latency", s.server_tpot_latency),
        ]
    return items


def write_detail(path: StrPath, records: Iterable[LogRecord], *, pid: int, tid: int) -> None:
    """Write ``records`` as ``:::MLLOG`` lines (atomically, one line per record)."""
    with atomic_writer(path) as f:
        for record in records:
            f.write(mllog_line(record, pid=pid, tid=tid))
            f.write("\n")


def read_detail(path: StrPath) -> dict[str, object]:
    """Key -> value of a detail log; the first occurrence of a key wins (like the checker)."""
    out: dict[str, object] = {}
    with Path(path).open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if line_no == 1 and not line.startswith(MARKER):
                raise UserError(f"{path}: not a detail log (line 1 lacks {MARKER})")
            if line.startswith(MARKER):
                entry = _parse(path, line_no, line)
                out.setdefault(str(entry["key"]), entry["value"])
    return out


def _parse(path: StrPath, line_no: int, line: str) -> dict[str, object]:
    try:
        entry = json.loads(line[len(MARKER) :])
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{line_no}: invalid MLLOG JSON ({exc.msg})") from None
    if not isinstance(entry, dict) or "key" not in entry or "value" not in entry:
        raise UserError(f"{path}:{line_no}: an MLLOG entry needs a key and a value")
    return entry
