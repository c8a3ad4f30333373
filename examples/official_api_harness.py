"""A harness written only against the official ``mlperf_loadgen`` Python API.

It is shaped like the MLPerf reference implementations: a QSL whose load/unload
callbacks keep numpy "samples" in a dict, a SUT with a pool of worker threads that
pull queries from a queue, run a tiny deterministic "model" (an integer
matrix-vector product) and answer with ``array.array('B', ...)`` buffers passed by
address, ``TestSettings`` attributes plus an optional ``user.conf``, and
``StartTestWithLogSettings``. The only line that knows which LoadGen runs is the
``importlib.import_module`` of ``--loadgen``::

    python examples/official_api_harness.py --loadgen mlperf_loadgen --scenario Server
    python examples/official_api_harness.py --loadgen mlmeter.compat.mlperf_loadgen \\
        --scenario Offline --mode accuracy --outdir out/

The "model" is exact integer arithmetic, so the response bytes for a sample are the
same whichever LoadGen ran it (the compatibility tests compare the accuracy logs).
"""

from __future__ import annotations

import argparse
import array
import importlib
import queue
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

FEATURES = 64  # "pixels" per sample
CLASSES = 4  # outputs of the "model"
_STOP = None


def make_sample(index: int) -> np.ndarray:
    """The pre-processed input of sample ``index`` (deterministic)."""
    rng = np.random.default_rng(1000 + index)
    return rng.integers(0, 256, size=FEATURES, dtype=np.int64)


class Model:
    """A linear classifier in exact integer arithmetic: scores = W @ x."""

    def __init__(self, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.weights = rng.integers(-128, 128, size=(CLASSES, FEATURES), dtype=np.int64)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Scores of shape (len(batch), CLASSES) as little-endian int32."""
        return (batch @ self.weights.T).astype("<i4")


class QSL:
    """The data set: ``total`` samples, ``performance`` of which fit in memory."""

    def __init__(self, lg: ModuleType, total: int, performance: int) -> None:
        self.samples: dict[int, np.ndarray] = {}
        self.handle = lg.ConstructQSL(total, performance, self.load, self.unload)

    def load(self, indices: list[int]) -> None:
        for index in indices:
            self.samples[index] = make_sample(index)

    def unload(self, indices: list[int]) -> None:
        for index in indices:
            self.samples.pop(index, None)


class SUT:
    """Worker threads pull batches of query samples from a queue and answer them."""

    def __init__(
        self,
        lg: ModuleType,
        qsl: QSL,
        *,
        threads: int = 2,
        batch_size: int = 8,
        service_us: int = 0,
    ) -> None:
        self.lg = lg
        self.qsl = qsl
        self.model = Model()
        self.batch_size = batch_size
        self.service_s = service_us / 1e6  # emulated device time per batch
        self.queue: queue.Queue[Any] = queue.Queue()
        self.workers = [
            threading.Thread(target=self.serve, name=f"sut-{i}", daemon=True)
            for i in range(threads)
        ]
        for worker in self.workers:
            worker.start()
        self.handle = lg.ConstructSUT(self.issue_queries, self.flush_queries)

    def issue_queries(self, query_samples: Any) -> None:
        """Called by LoadGen: queue the samples in batches."""
        for lo in range(0, len(query_samples), self.batch_size):
            self.queue.put(query_samples[lo : lo + self.batch_size])

    def flush_queries(self) -> None:
        """Nothing is held back."""

    def serve(self) -> None:
        while (batch := self.queue.get()) is not _STOP:
            inputs = np.stack([self.qsl.samples[s.index] for s in batch])
            scores = self.model.predict(inputs)
            if self.service_s:
                time.sleep(self.service_s)
            self.respond(batch, scores)

    def respond(self, batch: Any, scores: np.ndarray) -> None:
        # As the reference harnesses do: keep the buffers alive until
        # QuerySamplesComplete returns; LoadGen copies the bytes it logs.
        buffers = [array.array("B", row.tobytes()) for row in scores]
        responses = []
        for sample, buf in zip(batch, buffers, strict=True):
            address, size = buf.buffer_info()
            responses.append(self.lg.QuerySampleResponse(sample.id, address, size))
        self.lg.QuerySamplesComplete(responses)

    def stop(self) -> None:
        for _ in self.workers:
            self.queue.put(_STOP)
        for worker in self.workers:
            worker.join()


def make_settings(lg: ModuleType, args: argparse.Namespace) -> Any:
    """TestSettings from user.conf (if given), then the command line, as harnesses do."""
    settings = lg.TestSettings()
    if args.user_conf:
        settings.FromConfig(args.user_conf, args.model, args.scenario)
    settings.scenario = getattr(lg.TestScenario, args.scenario)
    settings.mode = {
        "performance": lg.TestMode.PerformanceOnly,
        "accuracy": lg.TestMode.AccuracyOnly,
    }[args.mode]
    if args.duration_ms is not None:
        settings.min_duration_ms = args.duration_ms
    if args.min_query_count is not None:
        settings.min_query_count = args.min_query_count
    if args.qps is not None:
        settings.server_target_qps = args.qps
        settings.offline_expected_qps = args.qps
    if args.latency_ns is not None:
        settings.single_stream_expected_latency_ns = args.latency_ns
        settings.multi_stream_expected_latency_ns = args.latency_ns
    return settings


def make_log_settings(lg: ModuleType, outdir: str) -> Any:
    Path(outdir).mkdir(parents=True, exist_ok=True)
    log_output = lg.LogOutputSettings()
    log_output.outdir = outdir
    log_output.copy_summary_to_stdout = False
    log_settings = lg.LogSettings()
    log_settings.log_output = log_output
    log_settings.enable_trace = False
    return log_settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--loadgen",
        default="mlperf_loadgen",
        choices=["mlperf_loadgen", "mlmeter.compat.mlperf_loadgen"],
        help="the LoadGen module to import",
    )
    p.add_argument(
        "--scenario",
        default="Offline",
        choices=["SingleStream", "MultiStream", "Server", "Offline"],
    )
    p.add_argument("--mode", default="performance", choices=["performance", "accuracy"])
    p.add_argument("--outdir", default="output", help="where LoadGen writes its logs")
    p.add_argument("--duration-ms", type=int, help="min_duration_ms (overrides user.conf)")
    p.add_argument("--min-query-count", type=int, help="min_query_count")
    p.add_argument("--qps", type=float, help="server_target_qps and offline_expected_qps")
    p.add_argument("--latency-ns", type=int, help="SingleStream/MultiStream expected latency")
    p.add_argument("--user-conf", help="a user.conf applied with TestSettings.FromConfig")
    p.add_argument("--model", default="tiny-linear", help="the model name in conf files")
    p.add_argument("--total-samples", type=int, default=128)
    p.add_argument("--performance-samples", type=int, default=64)
    p.add_argument("--threads", type=int, default=2, help="SUT worker threads")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--service-us", type=int, default=0, help="emulated device time per batch")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lg = importlib.import_module(args.loadgen)
    settings = make_settings(lg, args)
    log_settings = make_log_settings(lg, args.outdir)
    qsl = QSL(lg, args.total_samples, args.performance_samples)
    sut = SUT(lg, qsl, threads=args.threads, batch_size=args.batch_size, service_us=args.service_us)
    try:
        lg.StartTestWithLogSettings(sut.handle, qsl.handle, settings, log_settings)
    finally:
        sut.stop()
        lg.DestroyQSL(qsl.handle)
        lg.DestroySUT(sut.handle)
    summary = Path(args.outdir) / "mlperf_log_summary.txt"
    if summary.exists():
        for line in summary.read_text().splitlines():
            if line.startswith("Result is"):
                print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
