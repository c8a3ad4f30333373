"""Result data objects: what a finished run measured, ready for the log writers.

These are plain immutable values (integer ns, counts, rates). The computation that
fills them lives in ``mlmeter.stats``; the writers here only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlmeter._version import __version__

OFFICIAL_LOADGEN_VERSION = "6.0.17"  # the LoadGen release whose log formats we reproduce


@dataclass(frozen=True)
class LatencyStats:
    """Min/max/mean and the reported percentiles of a set of latencies (ns)."""

    count: int
    min_ns: int
    max_ns: int
    mean_ns: float
    percentiles: dict[float, int]  # keys: 0.5, 0.9, 0.95, 0.97, 0.99, 0.999


@dataclass(frozen=True)
class Check:
    """One validity rule: its official name, whether it held, and why, with numbers."""

    code: str  # "min_duration", "min_queries", "perf_constraints", "early_stopping", ...
    met: bool
    message: str  # e.g. "min duration 600000 ms not met: the run lasted 5012.3 ms"


@dataclass(frozen=True)
class EarlyStoppingReport:
    """The early-stopping block of the summary, with its numbers."""

    met: bool
    # Summary bullets without the leading " * ". A bullet that the official LoadGen wraps
    # keeps its line breaks, each followed by one space (" early stopping estimate ...").
    # The ``es_*`` helpers of ``mlmeter.logfmt`` build the official texts from numbers.
    lines: tuple[str, ...]
    # SingleStream / MultiStream estimates (ns); None where not applicable
    estimate_ns: int | None = None
    estimate_p99_ns: int | None = None  # SS: second estimate at p99
    # Token runs: separate TTFT and TPOT blocks
    ttft_lines: tuple[str, ...] = ()
    tpot_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenStats:
    """LLM token metrics (present when use_token_latencies is on)."""

    total_tokens: int
    tokens_per_second: float  # Offline: tokens / max latency; Server: completed tokens/s
    ttft: LatencyStats | None  # None in Offline
    tpot: LatencyStats | None  # per-sample time per output token
    # tokens / issue time of the last query (SS summary "TPS w/ loadgen overhead" and the
    # detail's result_token_throughput_with_loadgen_overhead); None: use tokens_per_second
    tokens_per_second_with_overhead: float | None = None
    # tokens / (mean sample latency x samples) (SS "TPS w/o loadgen overhead");
    # None: computed from the sample latency stats
    tokens_per_second_without_overhead: float | None = None


@dataclass(frozen=True)
class PerformanceResult:
    """Everything the summary, detail and results.json report about a performance run."""

    scenario: str  # official scenario name
    mode: str  # official mode name
    sut_name: str
    valid: bool
    checks: tuple[Check, ...]  # in the official order; only those that apply
    early_stopping: EarlyStoppingReport
    query_count: int  # queries issued
    sample_count: int  # samples completed
    sample_latency: LatencyStats  # per sample; Offline: from test start
    query_latency: LatencyStats | None  # MultiStream per-query (slowest sample)
    # the headline metric, per scenario (see the official summary fields)
    target_percentile_latency_ns: int | None = None  # SS p90 / MS p99
    qps_with_loadgen_overhead: float | None = None  # SS
    qps_without_loadgen_overhead: float | None = None  # SS
    scheduled_samples_per_sec: float | None = None  # Server
    completed_samples_per_sec: float | None = None  # Server
    samples_per_second: float | None = None  # Offline
    overlatency_query_count: int | None = None  # Server
    tokens: TokenStats | None = None
    duration_ns: int = 0  # run length used for min duration
    # infer_token_latencies: token_latency_scaling_factor x samples/s (Server: completed)
    inferred_tokens_per_second: float | None = None

    @property
    def invalid_reasons(self) -> tuple[str, ...]:
        """Messages of every rule that failed."""
        return tuple(c.message for c in self.checks if not c.met)


@dataclass(frozen=True)
class RunProblems:
    """Errors and warnings counted during a run (they do not flip VALID by themselves)."""

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    missing_samples: int = 0
    unknown_responses: int = 0
    duplicate_responses: int = 0
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class LogRecord:
    """One detail-log event, recorded during the run and formatted afterwards."""

    key: str
    value: object
    time_ns: int  # ns since the test's log origin
    is_error: bool = False
    is_warning: bool = False
    source: str = "loadgen.py"  # goes into metadata.file
    line_no: int = 0


@dataclass(frozen=True)
class RunHeader:
    """The head of the detail log: versions, test date, SUT and QSL as reported."""

    test_datetime: str  # ISO 8601 UTC, e.g. "2026-11-28T18:21:06Z"
    sut_name: str
    get_sut_name_duration_ns: int
    qsl_name: str
    qsl_total_count: int
    qsl_performance_count: int
    tool_version: str = __version__
    # "<official version> @ <revision>" like the official; the checker does not parse it
    loadgen_version: str = f"{OFFICIAL_LOADGEN_VERSION} @ mlmeter-{__version__}"
    build_date_local: str = ""
    build_date_utc: str = ""
    git_commit_date: str = ""
    git_log_message: str = ""
    # must stay "": a non-empty status makes the official log an error the checker rejects
    git_status_message: str = ""
    file_sha1: dict[str, str] = field(default_factory=dict)  # "/path" -> sha1, like the official


@dataclass(frozen=True)
class AccuracyEntry:
    """One element of mlperf_log_accuracy.json."""

    seq_id: int
    qsl_idx: int
    data: bytes
    token_data: bytes | None = None  # first-token bytes (token runs, non-Offline)
    token_count: int | None = None  # token runs
