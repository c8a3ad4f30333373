"""Fidelity: does mlmeter report what the official LoadGen reports for the same SUT?

The SUT (``_suts.sleep_sut``) is written once against the official API: one worker
thread pulls samples from a ``queue.Queue``, sleeps a fixed 1 ms each, and calls
``QuerySamplesComplete`` from the worker thread. It runs on the official wheel and on
``mlmeter.compat.mlperf_loadgen`` side by side (a fresh subprocess per run, trace off,
QSL 1024/1024, same seeds, hence the same Server arrival schedule) in SingleStream and
in Server at 200 QPS. Throughput must agree within ±3 %, p50 and p90 latency within ±10 %.

    python benchmarks/fidelity.py                # 10 s per run, about a minute
    python benchmarks/fidelity.py --quick        # 3 s per run
    python benchmarks/fidelity.py --repeat 3 --json fidelity.json

See docs/benchmarks.md for the method and the measured tables.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from _common import (
    BenchError,
    Row,
    Runner,
    Runs,
    Target,
    loadavg,
    machine_info,
    pair_row,
    render_machine,
    render_table,
    rows_json,
    spec_maker,
    summary_metric,
    write_json,
)

THROUGHPUT = Target("±", 0.03, "throughput within 3 %")
LATENCY = Target("±", 0.10, "latency within 10 %")
SERVICE_NS = 1_000_000


def single_stream_rows(runner: Runner, duration_ms: int) -> list[Row]:
    """SingleStream: QPS w/ loadgen overhead, p50, p90 (and p99, untargeted)."""
    runs = runner.pair(
        spec_maker(
            "sleep1ms",
            "SingleStream",
            min_duration_ms=duration_ms,
            single_stream_expected_latency_ns=SERVICE_NS,
        )
    )
    qps = summary_metric("QPS w/ loadgen overhead")
    return [
        pair_row("SingleStream QPS w/ loadgen overhead", runs, qps, THROUGHPUT, "/s"),
        *_latency_rows("SingleStream", runs),
    ]


def server_rows(runner: Runner, duration_ms: int, qps: int) -> list[Row]:
    """Server: completed samples/s, p50, p90 (and p99, untargeted)."""
    runs = runner.pair(
        spec_maker(
            "sleep1ms",
            "Server",
            min_duration_ms=duration_ms,
            server_target_qps=qps,
            server_target_latency_ns=100_000_000,
        )
    )
    done = summary_metric("Completed samples per second")
    return [
        pair_row(f"Server @{qps} completed samples/s", runs, done, THROUGHPUT, "/s"),
        *_latency_rows(f"Server @{qps}", runs),
    ]


def _latency_rows(label: str, runs: Runs) -> list[Row]:
    rows = []
    for pct, target in (("50.00", LATENCY), ("90.00", LATENCY), ("99.00", None)):
        pick = summary_metric(f"{pct} percentile latency (ns)")
        rows.append(pair_row(f"{label} p{pct[:2]} latency", runs, pick, target, "ns"))
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description="Side-by-side fidelity of mlmeter against the official LoadGen "
        "(1 ms single-worker SUT, SingleStream and Server).",
    )
    p.add_argument("--quick", action="store_true", help="3 s runs: a smoke test")
    p.add_argument("--duration-ms", type=int, help="min_duration_ms of each run (default 10000)")
    p.add_argument("--server-qps", type=int, default=200, help="Server target QPS (default 200)")
    p.add_argument("--repeat", type=int, default=1, help="runs per configuration (median)")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per subprocess")
    p.add_argument(
        "--mlmeter-path",
        help="prepend this directory to PYTHONPATH in the subprocesses (a source snapshot)",
    )
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Options -> runs -> table (and JSON)."""
    args = parse_args(argv)
    duration = args.duration_ms or (3000 if args.quick else 10_000)
    info = machine_info(args.mlmeter_path)
    print(render_machine(info), flush=True)
    runner = Runner(repeat=args.repeat, timeout_s=args.timeout, pythonpath=args.mlmeter_path)
    try:
        rows = single_stream_rows(runner, duration) + server_rows(runner, duration, args.server_qps)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    info["loadavg_after"] = loadavg()
    print(f"\nload average after the runs: {' '.join(map(str, info['loadavg_after']))}")
    print(render_table(rows))
    if args.json:
        write_json(
            args.json,
            "fidelity",
            info,
            duration_ms=duration,
            server_qps=args.server_qps,
            repeat=args.repeat,
            rows=rows_json(rows),
            runs=runner.raw,
        )
    return 0 if all(r.passed is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
