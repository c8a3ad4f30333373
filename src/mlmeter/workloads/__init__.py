"""Real benchmarks: data sets, models, metrics and targets, run through the loadgen."""

from mlmeter.workloads._base import (
    AccuracyResult,
    Dataset,
    Prepared,
    Scorer,
    Target,
    Workload,
    WorkloadOptions,
)
from mlmeter.workloads._qsl import DatasetQSL
from mlmeter.workloads._registry import available, get, names

__all__ = [
    "AccuracyResult",
    "Dataset",
    "DatasetQSL",
    "Prepared",
    "Scorer",
    "Target",
    "Workload",
    "WorkloadOptions",
    "available",
    "get",
    "names",
]
