"""On-disk formats: the official LoadGen logs (summary, detail, accuracy, trace) and
mlmeter's own versioned ``results.json``.

One private module per format, each with ``write_*``/``read_*`` (or ``render_*``) taking
the immutable records of ``_records``; every writer replaces its file atomically. The
official formats are byte-compatible with LoadGen 6.0.17 (``OFFICIAL_LOADGEN_VERSION``).
"""

from mlmeter.logfmt._accuracy import accuracy_entry_text, read_accuracy_log, write_accuracy_log
from mlmeter.logfmt._atomic import atomic_write_bytes, atomic_write_text, atomic_writer
from mlmeter.logfmt._detail import detail_records, read_detail, requested_items, write_detail
from mlmeter.logfmt._es_text import (
    es_estimate,
    es_estimate_line,
    es_not_enough_for,
    es_run_successful,
    es_run_unsuccessful,
    es_too_few_queries,
)
from mlmeter.logfmt._mllog import mllog_line, mllog_value
from mlmeter.logfmt._numfmt import fmt_double, fmt_fixed
from mlmeter.logfmt._paths import LogPaths, log_paths
from mlmeter.logfmt._records import (
    OFFICIAL_LOADGEN_VERSION,
    AccuracyEntry,
    Check,
    EarlyStoppingReport,
    LatencyStats,
    LogRecord,
    PerformanceResult,
    RunHeader,
    RunProblems,
    TokenStats,
)
from mlmeter.logfmt._results_json import (
    RESULTS_FORMAT,
    RESULTS_VERSION,
    migrate_results,
    read_results_json,
    results_document,
    write_results_json,
)
from mlmeter.logfmt._summary import render_summary
from mlmeter.logfmt._timings import (
    MAX_TIMED_SAMPLES,
    TIMINGS_FILE,
    TIMINGS_FORMAT,
    TIMINGS_VERSION,
    write_timings,
)
from mlmeter.logfmt._trace import write_trace
from mlmeter.logfmt._verdict import Verdict, verdict

__all__ = [
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
]
