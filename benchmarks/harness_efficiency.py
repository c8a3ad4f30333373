"""Harness efficiency: how much of a real model's speed is left after the harness?

The ``image-classification`` workload on ONNX Runtime (EfficientNet-Lite0, the 48
preprocessed CI samples, one intra-op thread, batch 1 unless ``--batch-size``), all
in ONE process and with ONE runner (``runner(list of inputs) -> list of int32
bytes``, the very function ``mlmeter run`` uses), driven four ways:

- ``bare``: a plain loop calling the runner, no harness at all;
- ``mlmeter``: mlmeter's own loadgen and ``BatchingSUT``, as ``mlmeter run`` does;
- ``compat``: an SUT written once against the official ``mlperf_loadgen`` API (a
  worker thread, a queue, ``QuerySamplesComplete`` with raw pointers), run on
  ``mlmeter.compat.mlperf_loadgen``;
- ``official``: the same SUT code on the official wheel (``mlperf_loadgen``).

It reports (a) Offline samples/s of each harness divided by the bare loop's, and (b)
SingleStream p50 (and p90) of each divided by the bare per-sample latency; (c) is the
official/compat columns next to mlmeter's. Targets: mlmeter's Offline efficiency >=
0.97 and its SingleStream p50 overhead <= 2 %.

Every harnessed run is paired with a bare run of the same length just before it, and
its ratio is taken against that one: on a shared machine the load other jobs add drifts
over minutes, and pairs cancel most of it. Each repeat runs the three harnesses in a
rotated order; the table shows the medians of the figures (bare: of all bare runs) and
the medians of the paired ratios. Offline's ``offline_expected_qps`` is 1.4 x the bare
rate just seen, so a harnessed run holds ~1.5 x min_duration of work.

    python benchmarks/harness_efficiency.py                       # 10 s each, ~2.5 min
    python benchmarks/harness_efficiency.py --repeat 3 --json he.json  # ~7 min
    python benchmarks/harness_efficiency.py --quick               # 2 s each: a smoke test
"""

from __future__ import annotations

import argparse
import array
import importlib
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from _common import loadavg, machine_info, parse_summary, render_machine, write_json

HARNESSES = ("bare", "mlmeter", "compat", "official")
MODULES = {"compat": "mlmeter.compat.mlperf_loadgen", "official": "mlperf_loadgen"}
OFFLINE_TARGET = 0.97  # mlmeter samples/s >= 0.97 x bare
SS_TARGET = 1.02  # mlmeter p50 <= 1.02 x bare
# Offline's query holds 1.1 x min_duration x expected QPS samples: ask for 40 % more than
# the bare loop just did, so a harnessed run never ends before min_duration
OFFLINE_QPS_MARGIN = 1.4
Runner = Callable[[list[Any]], list[bytes]]
Summary = dict[str, str]


# -- the model and the data ----------------------------------------------------------


@dataclass
class Bench:
    """What every harness shares: the runner, the inputs and the run knobs."""

    runner: Runner
    inputs: list[np.ndarray]
    batch: int
    duration_ms: int


def build_bench(batch: int, threads: int, duration_ms: int) -> Bench:
    """The workload's own ONNX Runtime runner and its CI samples, preprocessed once."""
    from mlmeter.suts._backends import onnx_runner
    from mlmeter.workloads import WorkloadOptions
    from mlmeter.workloads.image_classification import ImageClassification, PackagedPhotos
    from mlmeter.workloads.image_classification._models import onnx_file, top1_runner

    model = ImageClassification.load_model(WorkloadOptions())
    runner = top1_runner(onnx_runner(onnx_file(model), threads=threads))
    photos = PackagedPhotos()
    inputs = [photos.get(i) for i in range(len(photos))]
    return Bench(runner, inputs, batch, duration_ms)


def warm_up(bench: Bench, seconds: float = 2.0) -> float:
    """Warm the session up; returns the bare samples/s it saw (for the log)."""
    for x in bench.inputs[:8]:
        bench.runner([x])
    return bare_offline(bench, seconds)


# -- bare loops ----------------------------------------------------------------------


def bare_offline(bench: Bench, seconds: float) -> float:
    """Samples/s of the runner called in a loop on batches of the same inputs."""
    inputs, b, n = bench.inputs, bench.batch, len(bench.inputs)
    done = i = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        bench.runner([inputs[(i + k) % n] for k in range(b)])
        done += b
        i += b
    return done / (time.perf_counter() - t0)


def bare_latencies(bench: Bench, seconds: float) -> list[int]:
    """Per-sample latency (ns) of the runner called on one input at a time."""
    out: list[int] = []
    clock = time.perf_counter_ns
    end = clock() + int(seconds * 1e9)
    i = 0
    while clock() < end:
        x = bench.inputs[i % len(bench.inputs)]
        t = clock()
        bench.runner([x])
        out.append(clock() - t)
        i += 1
    return out


def percentile(values: Sequence[int], p: float) -> float:
    """LoadGen's percentile: element floor(n * p) of the sorted values."""
    ordered = sorted(values)
    return float(ordered[min(int(len(ordered) * p), len(ordered) - 1)])


# -- mlmeter's own loadgen -----------------------------------------------------------


class _Inputs:
    """The preprocessed inputs as a ``Dataset`` (labels unused in performance mode)."""

    name = "packaged-photos"

    def __init__(self, inputs: list[np.ndarray]) -> None:
        self._inputs = inputs

    def __len__(self) -> int:
        return len(self._inputs)

    def get(self, index: int) -> np.ndarray:
        return self._inputs[index]

    def label(self, index: int) -> int:
        return 0


def run_mlmeter(bench: Bench, scenario: str, knobs: dict[str, Any], outdir: Path) -> Summary:
    """One run through ``mlmeter.loadgen.start_test`` with the workload's BatchingSUT."""
    from mlmeter.loadgen import LogSettings, start_test
    from mlmeter.settings import Scenario, TestMode, TestSettings
    from mlmeter.suts._batching import BatchingSUT
    from mlmeter.workloads import DatasetQSL

    qsl = DatasetQSL(_Inputs(bench.inputs), len(bench.inputs))
    sut = BatchingSUT([bench.runner], qsl.input, max_batch=bench.batch, name="bench")
    settings = TestSettings(
        scenario=Scenario.parse(scenario), mode=TestMode.PERFORMANCE_ONLY, **knobs
    )
    try:
        start_test(sut, qsl, settings, LogSettings(outdir=outdir))
    finally:
        sut.close()
    return parse_summary((outdir / "mlperf_log_summary.txt").read_text())


# -- one SUT written against the official API ----------------------------------------


def official_api_sut(lg: ModuleType, bench: Bench) -> tuple[Any, Callable[[], None]]:
    """A worker thread that batches queued samples, runs them and completes them."""
    work: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def next_batch() -> list[Any] | None:
        first = work.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < bench.batch:
            try:
                item = work.get_nowait()
            except queue.Empty:
                break
            if item is None:
                work.put(None)
                break
            batch.append(item)
        return batch

    def serve() -> None:
        while (batch := next_batch()) is not None:
            outs = bench.runner([bench.inputs[s.index] for s in batch])
            bufs = [array.array("B", o) for o in outs]
            lg.QuerySamplesComplete(
                [
                    lg.QuerySampleResponse(s.id, b.buffer_info()[0], len(b))
                    for s, b in zip(batch, bufs, strict=True)
                ]
            )

    def issue(samples: Any) -> None:
        for s in samples:
            work.put(s)

    worker = threading.Thread(target=serve, name="sut-worker", daemon=True)
    worker.start()

    def stop() -> None:
        work.put(None)
        worker.join(timeout=10)

    return lg.ConstructSUT(issue, lambda: None), stop


def run_official_api(
    impl: str, bench: Bench, scenario: str, knobs: dict[str, Any], outdir: Path
) -> Summary:
    """One run of the official-API SUT on ``impl`` (``compat`` or ``official``)."""
    lg = importlib.import_module(MODULES[impl])
    n = len(bench.inputs)
    qsl = lg.ConstructQSL(n, n, lambda _i: None, lambda _i: None)
    sut, stop = official_api_sut(lg, bench)
    settings = lg.TestSettings()
    settings.scenario = getattr(lg.TestScenario, scenario)
    settings.mode = lg.TestMode.PerformanceOnly
    for key, value in knobs.items():
        setattr(settings, key, value)
    log = lg.LogSettings()
    log.log_output.outdir = str(outdir)
    log.enable_trace = False
    try:
        lg.StartTestWithLogSettings(sut, qsl, settings, log)
    finally:
        stop()
        lg.DestroySUT(sut)
        lg.DestroyQSL(qsl)
    return parse_summary((outdir / "mlperf_log_summary.txt").read_text())


# -- the measurements ----------------------------------------------------------------


@dataclass
class Measured:
    """Per harness: its figures, the bare figure measured right before each, and whether
    every run behind them was VALID."""

    values: dict[str, list[float]] = field(default_factory=lambda: {h: [] for h in HARNESSES})
    bare: dict[str, list[float]] = field(default_factory=lambda: {h: [] for h in HARNESSES})
    valid: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(HARNESSES, True))

    def add(self, harness: str, value: float, bare: float, valid: bool = True) -> None:
        """Record one pair: the harness's figure and the bare loop's just before it."""
        self.values[harness].append(value)
        self.bare[harness].append(bare)
        self.values["bare"].append(bare)
        self.valid[harness] = self.valid[harness] and valid

    def median(self, harness: str) -> float:
        """The median over repeats (for bare: over every bare measurement)."""
        return float(statistics.median(self.values[harness]))

    def ratio(self, harness: str) -> float:
        """The median over repeats of harness / the bare figure measured right before it."""
        if harness == "bare":
            return 1.0
        pairs = zip(self.values[harness], self.bare[harness], strict=True)
        return float(statistics.median(v / b for v, b in pairs))


def _harnessed(bench: Bench, harness: str, scenario: str, knobs: dict[str, Any]) -> Summary:
    with tempfile.TemporaryDirectory(prefix="mlmeter-he-") as tmp:
        if harness == "mlmeter":
            return run_mlmeter(bench, scenario, knobs, Path(tmp))
        return run_official_api(harness, bench, scenario, knobs, Path(tmp))


def offline_pair(bench: Bench, harness: str, out: Measured) -> None:
    """Bare Offline samples/s, then the harness's, sized from that bare figure."""
    bare = bare_offline(bench, bench.duration_ms / 1000)
    knobs = {
        "min_duration_ms": bench.duration_ms,
        "min_query_count": 1,
        "offline_expected_qps": round(OFFLINE_QPS_MARGIN * bare, 1),
    }
    s = _harnessed(bench, harness, "Offline", knobs)
    out.add(harness, float(s["Samples per second"]), bare, s.get("Result is") == "VALID")


def single_stream_pair(bench: Bench, harness: str, p50: Measured, p90: Measured) -> None:
    """Bare per-sample p50/p90 latency (ns), then the harness's SingleStream p50/p90."""
    lat = bare_latencies(bench, bench.duration_ms / 1000)
    knobs = {
        "min_duration_ms": bench.duration_ms,
        "min_query_count": 64,
        "single_stream_expected_latency_ns": int(0.5 * percentile(lat, 0.5)),
    }
    s = _harnessed(bench, harness, "SingleStream", knobs)
    ok = s.get("Result is") == "VALID"
    p50.add(harness, float(s["50.00 percentile latency (ns)"]), percentile(lat, 0.5), ok)
    p90.add(harness, float(s["90.00 percentile latency (ns)"]), percentile(lat, 0.9), ok)


def measure(bench: Bench, repeat: int) -> dict[str, Measured]:
    """Each harness in both scenarios, paired with a bare run, ``repeat`` times (rotated)."""
    rows = {"offline": Measured(), "ss_p50": Measured(), "ss_p90": Measured()}
    harnessed = HARNESSES[1:]
    for r in range(repeat):
        order = harnessed[r % 3 :] + harnessed[: r % 3]
        for h in order:
            offline_pair(bench, h, rows["offline"])
            _progress(f"repeat {r + 1} Offline samples/s", h, rows["offline"], 1.0)
        for h in order:
            single_stream_pair(bench, h, rows["ss_p50"], rows["ss_p90"])
            _progress(f"repeat {r + 1} SingleStream p50 ms", h, rows["ss_p50"], 1e-6)
    return rows


def _progress(label: str, harness: str, m: Measured, scale: float) -> None:
    value, bare = m.values[harness][-1] * scale, m.bare[harness][-1] * scale
    print(
        f"  {label}: bare {bare:,.3f}, {harness} {value:,.3f} (ratio {value / bare:.3f}; "
        f"load {os.getloadavg()[0]:.2f})",
        file=sys.stderr,
        flush=True,
    )


# -- the table -----------------------------------------------------------------------


def _fmt(value: float, unit: str) -> str:
    return f"{value / 1e6:.3f} ms" if unit == "ns" else f"{value:.1f} /s"


def table_rows(rows: dict[str, Measured]) -> list[dict[str, Any]]:
    """One dict per figure: medians, ratios to bare, target and verdict for mlmeter."""
    spec = (
        ("Offline samples/s", "offline", "/s", ">=", OFFLINE_TARGET),
        ("SingleStream p50 latency", "ss_p50", "ns", "<=", SS_TARGET),
        ("SingleStream p90 latency", "ss_p90", "ns", "", 0.0),
    )
    out = []
    for label, key, unit, op, bound in spec:
        m = rows[key]
        med = {h: m.median(h) for h in HARNESSES}
        ratio = {h: m.ratio(h) for h in HARNESSES}
        mine = ratio["mlmeter"]
        passed = None if not op else (mine >= bound if op == ">=" else mine <= bound)
        out.append(
            {
                "metric": label,
                "unit": unit,
                "median": med,
                "ratio_to_bare": ratio,
                "valid": m.valid,
                "target": f"{op} {bound:g}" if op else "-",
                "passed": passed,
                "values": m.values,
            }
        )
    return out


def render(rows: list[dict[str, Any]]) -> str:
    """A Markdown table: medians, each harness / bare, mlmeter's target and verdict."""
    head = ["metric", *HARNESSES, *(f"{h}/bare" for h in HARNESSES[1:]), "target", "pass"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["metric"]]
        cells += [
            _fmt(r["median"][h], r["unit"]) + ("" if r["valid"][h] else " !") for h in HARNESSES
        ]
        cells += [f"{r['ratio_to_bare'][h]:.3f}" for h in HARNESSES[1:]]
        verdict = {True: "PASS", False: "FAIL", None: "-"}[r["passed"]]
        cells += [f"mlmeter/bare {r['target']}" if r["passed"] is not None else "-", verdict]
        lines.append("| " + " | ".join(cells) + " |")
    if any(not all(r["valid"].values()) for r in rows):
        lines.append("\n! = at least one run behind this figure was INVALID")
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration-ms", type=int, default=10_000, help="per measurement (10000)")
    p.add_argument("--quick", action="store_true", help="2 s per measurement: a smoke test")
    p.add_argument("--repeat", type=int, default=1, help="repeats; the table shows medians")
    p.add_argument("--batch-size", type=int, default=1, help="largest batch (1)")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (1)")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.repeat < 1 or args.batch_size < 1 or args.threads < 1:
        p.error("--repeat, --batch-size and --threads must be at least 1")
    if args.quick:
        args.duration_ms = 2000
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Options -> model and data -> measurements -> table (and JSON)."""
    args = parse_args(argv)
    info = machine_info()
    print(render_machine(info), flush=True)
    bench = build_bench(args.batch_size, args.threads, args.duration_ms)
    warm = warm_up(bench)
    print(
        f"EfficientNet-Lite0 on onnxruntime, batch {args.batch_size}, {args.threads} thread(s), "
        f"{len(bench.inputs)} samples, {args.duration_ms} ms per measurement, "
        f"{args.repeat} repeat(s); warm-up: {warm:.1f} samples/s bare",
        flush=True,
    )
    rows = table_rows(measure(bench, args.repeat))
    info["loadavg_after"] = loadavg()
    print(f"\nload average after the runs: {' '.join(map(str, info['loadavg_after']))}")
    print(render(rows))
    if args.json:
        write_json(args.json, "harness_efficiency", info, args=vars(args), rows=rows)
    return 0 if all(r["passed"] is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
