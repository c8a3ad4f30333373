"""Harness overhead: the same null Python SUT on the official LoadGen and on mlmeter.

The SUT (``_suts.py``) is written once against the official ``mlperf_loadgen`` API and
run on the official wheel and on ``mlmeter.compat.mlperf_loadgen``; each configuration
runs in a fresh subprocess (one ``StartTest`` per process), trace off on both, logs in a
temp dir, QSL 1024/1024. Every figure is read from the run's own summary with one parser,
except the MultiStream query rate, which the SUT measures itself (the summary has none).

    python benchmarks/loadgen_overhead.py                 # full run, a few minutes
    python benchmarks/loadgen_overhead.py --quick         # smoke run, under a minute
    python benchmarks/loadgen_overhead.py --repeat 3 --json out.json

See docs/benchmarks.md for the method and the measured tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from _common import (
    IMPLS,
    BenchError,
    Row,
    Runner,
    Runs,
    Spec,
    Target,
    is_valid,
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

LATENCY_BOUND_NS = 15_000_000  # Server: 15 ms at p99

FASTER = Target(">=", 1.0, "throughput at least the official's")
NOT_SLOWER = Target("<=", 1.0, "no more than the official's")
HALF = Target("<=", 0.5, "half the official's or less")
QUARTER = Target("<=", 0.25, "a quarter of the official's or less")


@dataclass(frozen=True)
class Profile:
    """Sizes and durations of one benchmark run (``FULL`` or ``QUICK``)."""

    offline_samples: int = 1_000_000
    ss_ms: int = 5000
    ss_expected_ns: int = 2000
    ms_ms: int = 5000
    ms_expected_ns: int = 5000
    server_ms: int = 5000
    server_probe_qps: int = 1000
    ladder: tuple[int, ...] = (
        50_000,
        100_000,
        200_000,
        300_000,
        400_000,
        500_000,
        650_000,
        800_000,
        1_000_000,
        1_250_000,
    )
    bisect_steps: int = 3
    rss_ms: int = 10_000


FULL = Profile()
QUICK = Profile(
    offline_samples=200_000,
    ss_ms=1000,
    ms_ms=1000,
    server_ms=1000,
    ladder=(200_000, 400_000, 800_000),
    bisect_steps=1,
    rss_ms=1000,
)


# -- measurements --------------------------------------------------------------------


_SETUP_NOTE = "includes query pre-generation and log writing, not only the timed window"


def _wall(run: dict[str, Any]) -> float:
    return float(run["wall_s"])


def offline_rows(runner: Runner, prof: Profile, sut: str, label: str) -> tuple[list[Row], Runs]:
    """Offline, one query of ``offline_samples``: LoadGen's samples/s and StartTest wall."""
    n = prof.offline_samples
    runs = runner.pair(
        spec_maker(sut, "Offline", min_query_count=n, min_duration_ms=0, offline_expected_qps=1.0)
    )
    size = f"{n / 1e6:g} M" if n >= 1e6 else f"{n / 1e3:g} k"
    return [
        pair_row(
            f"Offline {size} samples/s ({label})",
            runs,
            summary_metric("Samples per second"),
            FASTER,
            "/s",
        ),
        pair_row(f"Offline {size} StartTest wall ({label})", runs, _wall, NOT_SLOWER, "s"),
    ], runs


def single_stream_rows(runner: Runner, prof: Profile) -> list[Row]:
    """SingleStream: 'QPS w/ loadgen overhead' and the p90 latency."""
    runs = runner.pair(
        spec_maker(
            "null",
            "SingleStream",
            min_duration_ms=prof.ss_ms,
            single_stream_expected_latency_ns=prof.ss_expected_ns,
        )
    )
    return [
        pair_row(
            "SingleStream queries/s (QPS w/ loadgen overhead)",
            runs,
            summary_metric("QPS w/ loadgen overhead"),
            FASTER,
            "/s",
        ),
        pair_row("SingleStream StartTest wall", runs, _wall, None, "s", _SETUP_NOTE),
        pair_row(
            "SingleStream p90 latency",
            runs,
            summary_metric("90.0th percentile latency (ns)"),
            NOT_SLOWER,
            "ns",
        ),
    ]


def multi_stream_rows(runner: Runner, prof: Profile) -> list[Row]:
    """MultiStream, 8 samples/query: the SUT-observed query rate and p99 per-query latency."""
    runs = runner.pair(
        spec_maker(
            "null",
            "MultiStream",
            min_duration_ms=prof.ms_ms,
            multi_stream_expected_latency_ns=prof.ms_expected_ns,
            multi_stream_samples_per_query=8,
        )
    )
    note = "(issue calls - 1) / (last issue - first issue), stamped inside the SUT"
    return [
        pair_row(
            "MultiStream queries/s (8 samples/query)",
            runs,
            lambda r: float(r["issue_rate"]),
            FASTER,
            "/s",
            note,
        ),
        pair_row("MultiStream StartTest wall", runs, _wall, None, "s", _SETUP_NOTE),
        pair_row(
            "MultiStream p99 per-query latency",
            runs,
            summary_metric("99.0th percentile latency (ns)"),
            NOT_SLOWER,
            "ns",
        ),
    ]


def server_probe_rows(runner: Runner, prof: Profile) -> list[Row]:
    """Server at a low target QPS: p50 and p99 latency (floor of the issue timing)."""
    qps = prof.server_probe_qps
    runs = runner.pair(
        spec_maker(
            "null",
            "Server",
            min_duration_ms=prof.server_ms,
            server_target_qps=qps,
            server_target_latency_ns=LATENCY_BOUND_NS,
        )
    )
    return [
        pair_row(
            f"Server @{qps} QPS p50 latency",
            runs,
            summary_metric("50.00 percentile latency (ns)"),
            HALF,
            "ns",
        ),
        pair_row(
            f"Server @{qps} QPS p99 latency",
            runs,
            summary_metric("99.00 percentile latency (ns)"),
            HALF,
            "ns",
        ),
    ]


# -- Server: highest VALID target QPS ------------------------------------------------


@dataclass
class Search:
    """Ladder, then bisection, for one implementation."""

    impl: str
    ladder: tuple[int, ...]
    steps: int
    lo: int = 0  # highest VALID so far
    hi: int | None = None  # lowest INVALID so far
    rung: int = 0
    probes: list[tuple[int, bool]] | None = None

    def next_qps(self) -> int | None:
        """The next target QPS to try, or None when the search is over."""
        if self.hi is None:
            return self.ladder[self.rung] if self.rung < len(self.ladder) else None
        if self.steps <= 0:
            return None
        return round((self.lo + self.hi) / 2000) * 1000

    def record(self, qps: int, valid: bool) -> None:
        """Take the outcome of one probe."""
        self.probes = [*(self.probes or []), (qps, valid)]
        if self.hi is None:
            self.rung += 1
        else:
            self.steps -= 1
        if valid:
            self.lo = max(self.lo, qps)
        else:
            self.hi = qps if self.hi is None else min(self.hi, qps)


def find_max_qps(runner: Runner, prof: Profile) -> dict[str, Search]:
    """Search both sides in lockstep (one probe each per round, alternating order)."""
    searches = {impl: Search(impl, prof.ladder, prof.bisect_steps) for impl in IMPLS}
    turn = 0
    while any(s.next_qps() is not None for s in searches.values()):
        order = IMPLS if turn % 2 == 0 else tuple(reversed(IMPLS))
        for impl in order:
            qps = searches[impl].next_qps()
            if qps is not None:
                run = runner.run(_server_spec(impl, qps, prof.server_ms))
                searches[impl].record(qps, is_valid(run["summary"]))
        turn += 1
    return searches


def _server_spec(impl: str, qps: int, ms: int) -> Spec:
    settings = {
        "min_duration_ms": ms,
        "server_target_qps": qps,
        "server_target_latency_ns": LATENCY_BOUND_NS,
    }
    return Spec(impl, "null", "Server", settings)


def max_qps_row(runner: Runner, prof: Profile, repeat: int) -> tuple[Row, list[dict[str, Any]]]:
    """The highest VALID Server target QPS; with ``repeat`` > 1, the median of searches."""
    found: dict[str, list[int]] = {impl: [] for impl in IMPLS}
    log: list[dict[str, Any]] = []
    for _ in range(repeat):
        for impl, s in find_max_qps(runner, prof).items():
            found[impl].append(s.lo)
            log.append({"impl": impl, "max_valid_qps": s.lo, "probes": s.probes})
    notes = [_probe_text(entry) for entry in log]
    top = prof.ladder[-1]
    if any(v >= top for vs in found.values() for v in vs):
        notes.append(f"the ladder top ({top}) was VALID: the real ceiling is higher")
    row = Row(
        f"Server max VALID target QPS (15 ms @ p99, {prof.server_ms / 1000:g} s runs)",
        float(statistics.median(found["official"])),
        float(statistics.median(found["mlmeter"])),
        FASTER,
        "/s",
        "; ".join(notes),
    )
    return row, log


def _probe_text(entry: dict[str, Any]) -> str:
    probes = ", ".join(f"{q / 1000:g}k{'' if ok else 'x'}" for q, ok in entry["probes"])
    return f"{entry['impl']}: {probes} (x = INVALID)"


# -- peak RSS --------------------------------------------------------------------------


def rss_rows(runner: Runner, prof: Profile, qps: float) -> list[Row]:
    """Peak RSS of a long Offline run sized by ``qps`` (the official's measured rate)."""
    runs = runner.pair(
        spec_maker(
            "null",
            "Offline",
            min_duration_ms=prof.rss_ms,
            offline_expected_qps=float(qps),
        )
    )
    samples = int(1.1 * prof.rss_ms / 1000 * qps)
    label = f"Offline {prof.rss_ms / 1000:g} s ({samples / 1e6:.3g} M samples)"
    note = (
        "offline_expected_qps is the official's rate, so both sides get the same query; "
        "a side faster than that ends before min_duration (INVALID), harmless for memory"
    )
    return [
        pair_row(
            f"{label} peak RSS", runs, lambda r: float(r["peak_rss_bytes"]), QUARTER, "B", note
        ),
        pair_row(
            f"{label} RSS growth in StartTest",
            runs,
            lambda r: float(r["peak_rss_bytes"] - r["rss_before_bytes"]),
            None,
            "B",
        ),
        pair_row(f"{label} samples/s", runs, summary_metric("Samples per second"), FASTER, "/s"),
        pair_row(f"{label} StartTest wall", runs, _wall, NOT_SLOWER, "s"),
    ]


# -- the pipeline ----------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description="Side-by-side overhead of the official LoadGen and mlmeter (null SUT).",
    )
    p.add_argument("--quick", action="store_true", help="small sizes, 1 s runs: a smoke test")
    p.add_argument("--repeat", type=int, default=1, help="runs per configuration (median)")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    p.add_argument(
        "--ladder",
        type=lambda s: tuple(int(float(x)) for x in s.split(",")),
        help="Server target QPS ladder, comma-separated (default 50k..1.25M; "
        "quick: 200k,400k,800k)",
    )
    p.add_argument("--bisect-steps", type=int, help="bisection steps after the ladder")
    p.add_argument(
        "--search-repeat",
        type=int,
        default=1,
        help="whole Server searches to run (median); --repeat does not apply to it",
    )
    p.add_argument(
        "--rss-qps",
        type=float,
        help="offline_expected_qps of the peak-RSS run (default: the official's Offline "
        "samples/s measured in this run)",
    )
    p.add_argument(
        "--only",
        default="offline,fast,ss,ms,server,maxqps,rss",
        help="comma-separated subset of: offline,fast,ss,ms,server,maxqps,rss",
    )
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per subprocess")
    p.add_argument(
        "--mlmeter-path",
        help="prepend this directory to PYTHONPATH in the subprocesses (a source snapshot)",
    )
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def profile_from(args: argparse.Namespace) -> Profile:
    """The profile the options select."""
    prof = QUICK if args.quick else FULL
    if args.ladder:
        prof = replace(prof, ladder=tuple(sorted(args.ladder)))
    if args.bisect_steps is not None:
        prof = replace(prof, bisect_steps=args.bisect_steps)
    return prof


def measure(runner: Runner, prof: Profile, args: argparse.Namespace) -> tuple[list[Row], Any]:
    """Every selected row, in table order."""
    only = set(args.only.split(","))
    rows: list[Row] = []
    extra: dict[str, Any] = {}
    official_rate = args.rss_qps
    if "offline" in only:
        offline, _ = offline_rows(runner, prof, "null", "ConstructSUT")
        rows += offline
        official_rate = official_rate or offline[0].official
    if "fast" in only:
        rows += offline_rows(runner, prof, "null-fast", "ConstructFastSUT")[0]
    if "ss" in only:
        rows += single_stream_rows(runner, prof)
    if "ms" in only:
        rows += multi_stream_rows(runner, prof)
    if "maxqps" in only:
        row, extra["server_search"] = max_qps_row(runner, prof, args.search_repeat)
        rows.append(row)
    if "server" in only:
        rows += server_probe_rows(runner, prof)
    if "rss" in only:
        rows += rss_rows(runner, prof, official_rate or 1.43e6)
    return rows, extra


def main(argv: Sequence[str] | None = None) -> int:
    """Options -> runs -> table (and JSON)."""
    args = parse_args(argv)
    prof = profile_from(args)
    info = machine_info(args.mlmeter_path)
    print(render_machine(info), flush=True)
    runner = Runner(repeat=args.repeat, timeout_s=args.timeout, pythonpath=args.mlmeter_path)
    try:
        rows, extra = measure(runner, prof, args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    info["loadavg_after"] = loadavg()
    print(f"\nload average after the runs: {' '.join(map(str, info['loadavg_after']))}")
    print(render_table(rows))
    if args.json:
        write_json(
            args.json,
            "loadgen_overhead",
            info,
            profile=prof.__dict__,
            repeat=args.repeat,
            rows=rows_json(rows),
            runs=runner.raw,
            **extra,
        )
    return 0 if all(r.passed is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
