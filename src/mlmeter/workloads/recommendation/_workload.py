"""``recommendation``: a mini-DLRM scoring Criteo-format click logs (MLPerf dlrm-v2).

One sample is one row (MLPerf's dlrm-v2 aggregates 100-700 rows into a sample); its
response is the float32 click probability. The metric is ROC AUC. The CI data and
model are a planted synthetic click model and a mini-DLRM trained on it on first use.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlmeter.errors import UsageError
from mlmeter.settings import Scenario
from mlmeter.suts._backends import check_backend
from mlmeter.suts._batching import BatchingSUT, Runner
from mlmeter.workloads import DatasetQSL, Prepared, Target, Workload, WorkloadOptions
from mlmeter.workloads._base import DataSide, Served
from mlmeter.workloads.recommendation._scoring import make_scorer

CI_EVAL_ROWS = 4096
# AUC of the CI model (FP32, backend torch) on the CI rows; tests re-measure it
REFERENCE_AUC = 0.825585127
# the official dlrm-v2 FP32 reference AUC on Criteo 1TB (MLPerf inference rules)
OFFICIAL_AUC = 0.8031
SERVER_LATENCY_NS = 60_000_000  # dlrm-v2's Server bound
# fewest queries for a clean early-stopping result (p90 SingleStream, p99 otherwise)
_MIN_QUERIES = {
    Scenario.SINGLE_STREAM: 64,
    Scenario.MULTI_STREAM: 662,
    Scenario.SERVER: 459,
    Scenario.OFFLINE: 1,
}
HANDOFF_S = 100e-6  # measured SUT overhead per batch on a busy 2-core box
OFFLINE_MARGIN = 1.3  # Offline QPS over the best case: a run that beats it is INVALID
# Network runs (--sut): the default settings assume ~1 ms per HTTP call on loopback
NETWORK_CALL_S = 1e-3


@dataclass(frozen=True)
class Speed:
    """Best-case seconds per call of one runner, measured in ``prepare``."""

    single_s: float  # one row
    batch_s: float  # one full batch
    batch: int
    workers: int

    @property
    def capacity(self) -> float:
        """Rows per second of all workers at full batches."""
        return self.workers * self.batch / self.batch_s

    @property
    def served(self) -> float:
        """Rows per second with ~100 us of queueing and thread hand-off per batch."""
        return self.workers * self.batch / (self.batch_s + HANDOFF_S)


class Recommendation(Workload):
    """Click-through-rate prediction: Criteo rows in, click probabilities out."""

    name = "recommendation"
    task = "recommendation (click-through rate)"
    model = "mini-DLRM (dlrm-v2 layout)"
    dataset = "Criteo click logs (CI: planted synthetic)"
    mlperf_model = "dlrm-v2"
    submission_benchmark = "dlrm-v2-99"  # 99 % of the reference AUC
    metric = "AUC"

    def __init__(self) -> None:
        self._speed: Speed | None = None

    def defaults(self, scenario: Scenario) -> dict[str, Any]:
        """Short CI settings, sized from the speed measured in ``prepare``."""
        speed = self._speed or Speed(200e-6, 200e-6, 1, 1)
        out: dict[str, Any] = {"min_duration_ms": 1000, "min_query_count": _MIN_QUERIES[scenario]}
        # Expected latencies are set under the real ones so that SingleStream and
        # MultiStream never run out of generated queries; Offline is sized to the
        # measured best case with a margin, which the real run (with loadgen and queue
        # overhead) cannot beat, so it lasts at least min_duration.
        single_ns = max(int(speed.single_s * 0.5e9), 5_000)
        out["single_stream_expected_latency_ns"] = single_ns
        out["multi_stream_expected_latency_ns"] = 8 * single_ns
        out["server_target_qps"] = round(0.25 * speed.served, 1)
        out["server_target_latency_ns"] = SERVER_LATENCY_NS
        out["offline_expected_qps"] = round(OFFLINE_MARGIN * speed.capacity, 1)
        return out

    def prepare(self, opts: WorkloadOptions) -> Prepared:
        """Load the data and model, build one runner per instance, measure their speed."""
        dataset, target, details = self._data(opts)
        runners = self._runners(opts, dataset.inputs[: min(2, len(dataset))])
        self._speed = measure(runners[0], dataset.inputs, opts)
        qsl = DatasetQSL(dataset, opts.performance_samples)
        sut = BatchingSUT(
            runners,
            qsl.input,
            max_batch=opts.batch_size,
            max_wait_ms=opts.max_wait_ms,
            name=f"mini-dlrm-{opts.backend}",
        )
        scorer = make_scorer(dataset.labels, target, details)
        return Prepared(qsl, sut, scorer, target, closers=[sut.close])

    def prepare_data(self, opts: WorkloadOptions) -> DataSide:
        """The rows, labels and scorer of a run against ``mlmeter serve``: no model is
        loaded; the default settings assume one HTTP round trip per call."""
        dataset, target, details = self._data(opts)
        batch = max(min(opts.batch_size, len(dataset)), 1)
        self._speed = Speed(NETWORK_CALL_S, NETWORK_CALL_S, batch, 1)
        qsl = DatasetQSL(dataset, opts.performance_samples)
        return DataSide(qsl, qsl.input, make_scorer(dataset.labels, target, details), target)

    def serving(self, opts: WorkloadOptions) -> Served:
        """One runner per instance, for ``mlmeter serve`` (no data set is read)."""
        from mlmeter.workloads.recommendation._criteo import DENSE, SPARSE

        check_backend(opts.backend, self.backends)
        _check_sizes(opts)
        example = np.zeros((2, DENSE + SPARSE), np.float32)  # for the ONNX export: the layout
        return Served(self._runners(opts, example), "mini-DLRM")

    def _data(self, opts: WorkloadOptions) -> tuple[Any, Target, dict[str, Any]]:
        """The data set (CI rows or ``--data-dir``), its target and score details."""
        check_backend(opts.backend, self.backends)
        _check_sizes(opts)
        from mlmeter.workloads.recommendation import _loading
        from mlmeter.workloads.recommendation._model import DLRMConfig
        from mlmeter.workloads.recommendation._train import Recipe

        config = DLRMConfig()
        if opts.data_dir is None:
            dataset, bayes = _loading.ci_dataset(config, Recipe(), CI_EVAL_ROWS)
            return dataset, Target(self.metric, REFERENCE_AUC), {"bayes_auc": round(bayes, 6)}
        dataset = _loading.real_dataset(opts.data_dir, config)
        return dataset, Target(self.metric, OFFICIAL_AUC), {}

    @staticmethod
    def _runners(opts: WorkloadOptions, example: np.ndarray) -> list[Runner]:
        """The model (``--model-path`` or the CI one) behind ``--backend``, per instance."""
        from mlmeter.workloads.recommendation import _loading
        from mlmeter.workloads.recommendation._model import DLRMConfig
        from mlmeter.workloads.recommendation._train import Recipe

        net = _loading.model(opts, DLRMConfig(), Recipe())
        return [as_runner(_loading.backend_fn(net, opts, example)) for _ in range(opts.instances)]


def as_runner(fn: Any) -> Runner:
    """A BatchingSUT runner: stack the rows, run, one float32 per row as bytes."""

    def run(rows: list[Any]) -> list[bytes]:
        probs = np.asarray(fn(np.stack(rows)), dtype=np.float32).reshape(-1)
        return [p.tobytes() for p in probs]

    return run


def measure(runner: Runner, inputs: np.ndarray, opts: WorkloadOptions) -> Speed:
    """Best-case call times at batch 1 and at ``--batch-size`` (after a warm-up)."""
    batch = min(opts.batch_size, len(inputs))
    rows = list(inputs[:batch])
    workers = min(opts.instances, os.cpu_count() or 1)
    return Speed(_best(runner, rows[:1]), _best(runner, rows), batch, workers)


def _best(runner: Runner, rows: list[Any], *, calls: int = 20, span_s: float = 0.08) -> float:
    """Fastest of at least ``calls`` calls spread over ``span_s`` (a busy box slows some)."""
    runner(rows)  # warm-up
    best = float("inf")
    start = time.perf_counter()
    for n in range(1, 1000):
        t0 = time.perf_counter()
        runner(rows)
        best = min(best, time.perf_counter() - t0)
        if n >= calls and t0 - start >= span_s:
            break
    return best


def _check_sizes(opts: WorkloadOptions) -> None:
    for flag, value in (
        ("--batch-size", opts.batch_size),
        ("--instances", opts.instances),
        ("--threads", opts.threads),
    ):
        if value < 1:
            raise UsageError(f"{flag} must be at least 1 (got {value})")
    if opts.max_wait_ms < 0:
        raise UsageError(f"--max-wait-ms must be 0 or more (got {opts.max_wait_ms})")
