"""Pure statistics: percentiles, early stopping, and the official result formulas."""

from mlmeter.stats._compute import compute_performance, latency_stats, token_errors
from mlmeter.stats._run_record import NOT_SET, RunRecord
from mlmeter.stats.early_stopping import (
    EarlyStoppingEstimate,
    ServerEarlyStopping,
    min_passing_count,
    queries_needed_single_stream,
    server_early_stopping,
    single_stream_estimate,
)
from mlmeter.stats.percentile import REPORTED_PERCENTILES, percentile, percentile_index

__all__ = [
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
]
