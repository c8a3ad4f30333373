"""The generic time-to-train harness: rules-abiding ``:::MLLOG`` logs for any training loop.

- ``TrainingRun``: the few-lines API for a user's own loop (context manager).
- ``run_training``: drives a ``TrainingWorkload``'s trainer to its target.
- ``MllogLogger``/``read_mllog``: the official line format; ``keys``: the official keys.
- ``BenchmarkSpec``/``SubmissionInfo``: what the log claims to be.
- ``SampleStream``: seeded, rank-sharded sample order.
"""

from mlmeter.training import _keys as keys
from mlmeter.training._comm import Comm, LocalComm
from mlmeter.training._harness import RunOutcome, run_training
from mlmeter.training._mllog import (
    MARKER,
    EventType,
    JsonValue,
    LogOptions,
    MllogEvent,
    MllogLogger,
    MllogParseError,
    encode_line,
    parse_mllog_line,
    read_mllog,
)
from mlmeter.training._registry import get_training_workload, training_workload_names
from mlmeter.training._run import (
    TimeLimitExceeded,
    TrainingAborted,
    TrainingDiverged,
    TrainingRun,
)
from mlmeter.training._spec import BenchmarkSpec, SubmissionInfo
from mlmeter.training._stream import SampleStream
from mlmeter.training._workload import Trainer, TrainingWorkload, TrainOptions, select_recipe

__all__ = [
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
]
